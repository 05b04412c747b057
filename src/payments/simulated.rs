//! The simulated gateway (`payments.provider = "simulated"`, the default in
//! `config/local.toml`, refused in production): every hold succeeds at
//! once, so the apps' "pay, then poll until `held`" flow works with no
//! provider keys. No money moves.

use super::{GatewayFuture, Hold, HoldRequest, HoldState, PaymentGateway, Voided};

pub struct SimulatedGateway;

impl PaymentGateway for SimulatedGateway {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn create_hold<'a>(&'a self, request: &'a HoldRequest) -> GatewayFuture<'a, Hold> {
        Box::pin(async move {
            let id = format!("pi_sim_{}", request.payment_id.simple());
            Ok(Hold {
                client_secret: Some(format!("{id}_secret_simulated")),
                intent_id: id,
                state: HoldState::Held,
                method: "simulated".into(),
            })
        })
    }

    fn capture<'a>(&'a self, _: &'a str, _: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn cancel<'a>(&'a self, _: &'a str, _: &'a str) -> GatewayFuture<'a, Voided> {
        Box::pin(async { Ok(Voided::Cancelled) })
    }

    fn refund<'a>(&'a self, _: &'a str, _: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}
