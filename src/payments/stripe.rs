//! The Stripe adapter, through async-stripe. Every request carries an
//! idempotency key and is retried here (transient failures only, with
//! exponential backoff) under that same key, so a retry never moves money
//! twice. The base URL is configurable: the test suite points it at a local
//! server speaking Stripe's wire format.

use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use stripe::{ApiErrors, ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CapturePaymentIntent, CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_core::{PaymentIntent, PaymentIntentCaptureMethod, PaymentIntentStatus};
use stripe_types::Currency;

use super::{GatewayError, GatewayFuture, Hold, HoldRequest, HoldState, PaymentGateway, Voided};
use crate::config::PaymentSettings;
use crate::domain::backoff::Backoff;
use crate::error::BoxError;

pub struct StripeGateway {
    client: stripe::Client,
    attempts: u32,
    backoff: Backoff,
}

impl StripeGateway {
    pub fn new(settings: &PaymentSettings) -> Result<Self, BoxError> {
        let mut base = settings.stripe_api_base.trim().to_owned();
        if !base.ends_with('/') {
            // async-stripe appends `v1/...` directly to the base
            base.push('/');
        }
        let client = stripe::ClientBuilder::new(settings.stripe_secret_key.expose_secret())
            .url(base)
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            // retries are ours (below), so they share one key and our backoff
            .request_strategy(RequestStrategy::Once)
            .build()
            .map_err(|e| format!("stripe client: {e}"))?;
        Ok(Self {
            client,
            attempts: settings.request_attempts.max(1),
            backoff: Backoff::new(
                Duration::from_millis(settings.request_backoff_ms),
                Duration::from_millis(settings.request_backoff_ms).saturating_mul(1024),
            ),
        })
    }

    /// Sends `request` (with `key` when it changes anything), retrying
    /// transient failures.
    pub(super) async fn send<R>(&self, request: &R, key: Option<&str>) -> Result<R::Output, GatewayError>
    where
        R: StripeRequest + Sync,
        R::Output: miniserde::Deserialize + Send,
    {
        let strategy =
            match key {
                Some(key) => RequestStrategy::Idempotent(IdempotencyKey::new(key).map_err(|e| {
                    GatewayError::Rejected { status: 0, code: "idempotency_key".into(), message: e.to_string() }
                })?),
                None => RequestStrategy::Once,
            };
        let mut last = GatewayError::Unavailable("no attempt made".into());
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff.after(attempt)).await;
            }
            let sent = request.customize().request_strategy(strategy.clone()).send(&self.client);
            match sent.await {
                Ok(output) => return Ok(output),
                Err(err) => {
                    let err = classify(err);
                    if !err.is_transient() {
                        return Err(err);
                    }
                    tracing::warn!(attempt = attempt + 1, error = %err, "stripe request failed; retrying");
                    last = err;
                }
            }
        }
        Err(last)
    }

    async fn retrieve(&self, intent_id: &str) -> Result<PaymentIntent, GatewayError> {
        self.send(&RetrievePaymentIntent::new(intent_id), None).await
    }
}

/// Card errors are the payer's (402); timeouts, 409/429 and 5xx are
/// transient; any other answer is a refusal.
fn classify(err: StripeError) -> GatewayError {
    match err {
        StripeError::Stripe(api, status) => {
            let code = error_code(&api);
            let message = api.message.clone().unwrap_or_else(|| format!("stripe answered {status}"));
            if status == 402 || api.type_ == ApiErrorsType::CardError {
                GatewayError::Declined { code, message }
            } else if status == 409 || status == 429 || status >= 500 {
                GatewayError::Unavailable(format!("stripe answered {status}: {message}"))
            } else {
                GatewayError::Rejected { status, code, message }
            }
        }
        StripeError::ClientError(e) => GatewayError::Unavailable(e),
        StripeError::Timeout => GatewayError::Unavailable("timed out".into()),
        // an error page that is not Stripe JSON (a proxy's 502, …)
        StripeError::JSONDeserialize(e) => GatewayError::Unavailable(format!("unreadable answer: {e}")),
        StripeError::ConfigError(e) => GatewayError::Rejected { status: 0, code: "config".into(), message: e },
    }
}

fn error_code(api: &ApiErrors) -> String {
    api.decline_code.clone().or_else(|| api.code.as_ref().map(|c| c.as_str().to_owned())).unwrap_or_default()
}

fn unexpected_state(err: &GatewayError) -> bool {
    matches!(err, GatewayError::Rejected { code, .. } if code == "payment_intent_unexpected_state")
}

fn hold_of(intent: PaymentIntent) -> Result<Hold, GatewayError> {
    let state = match intent.status {
        PaymentIntentStatus::RequiresCapture => HoldState::Held,
        PaymentIntentStatus::RequiresPaymentMethod
        | PaymentIntentStatus::RequiresConfirmation
        | PaymentIntentStatus::RequiresAction
        | PaymentIntentStatus::Processing => HoldState::AwaitingConfirmation,
        other => {
            return Err(GatewayError::Rejected {
                status: 200,
                code: "unexpected_status".into(),
                message: format!("new PaymentIntent is '{}'", other.as_str()),
            });
        }
    };
    let method = if state == HoldState::Held { intent.payment_method_types.first().cloned() } else { None };
    Ok(Hold {
        intent_id: intent.id.as_str().to_owned(),
        client_secret: intent.client_secret,
        state,
        method: method.unwrap_or_default(),
    })
}

/// Stripe's currency for our ISO code (`MYR` → `myr`).
pub(super) fn currency(code: &str) -> Result<Currency, GatewayError> {
    Currency::from_str(&code.to_ascii_lowercase()).map_err(|_| GatewayError::Rejected {
        status: 0,
        code: "currency".into(),
        message: format!("unknown currency {code}"),
    })
}

impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn create_hold<'a>(&'a self, r: &'a HoldRequest) -> GatewayFuture<'a, Hold> {
        Box::pin(async move {
            let currency = currency(&r.currency)?;
            let metadata = HashMap::from([
                ("payment_id".to_owned(), r.payment_id.to_string()),
                ("booking_id".to_owned(), r.booking_id.to_string()),
                ("booking_number".to_owned(), r.booking_number.clone()),
                ("owner_id".to_owned(), r.owner_id.to_string()),
            ]);
            let mut request = CreatePaymentIntent::new(r.amount_cents, currency)
                .capture_method(PaymentIntentCaptureMethod::Manual)
                .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods {
                    allow_redirects: Some(CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects::Never),
                    enabled: true,
                })
                .description(format!("Kilat booking {}", r.booking_number))
                .receipt_email(r.customer_email.clone())
                .metadata(metadata);
            if let Some(method) = &r.payment_method {
                request = request.payment_method(method.clone()).confirm(true);
            }
            hold_of(self.send(&request, Some(&r.idempotency_key)).await?)
        })
    }

    fn capture<'a>(&'a self, intent_id: &'a str, key: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(async move {
            match self.send(&CapturePaymentIntent::new(intent_id), Some(key)).await {
                Ok(_) => Ok(()),
                Err(err) if unexpected_state(&err) => match self.retrieve(intent_id).await?.status {
                    PaymentIntentStatus::Succeeded => Ok(()),
                    other => Err(GatewayError::Rejected {
                        status: 400,
                        code: "payment_intent_unexpected_state".into(),
                        message: format!("cannot capture a PaymentIntent that is '{}'", other.as_str()),
                    }),
                },
                Err(err) => Err(err),
            }
        })
    }

    fn cancel<'a>(&'a self, intent_id: &'a str, key: &'a str) -> GatewayFuture<'a, Voided> {
        Box::pin(async move {
            match self.send(&CancelPaymentIntent::new(intent_id), Some(key)).await {
                Ok(_) => Ok(Voided::Cancelled),
                Err(err) if unexpected_state(&err) => match self.retrieve(intent_id).await?.status {
                    PaymentIntentStatus::Canceled => Ok(Voided::Cancelled),
                    PaymentIntentStatus::Succeeded => Ok(Voided::AlreadyCaptured),
                    _ => Err(err),
                },
                Err(err) => Err(err),
            }
        })
    }

    fn refund<'a>(&'a self, intent_id: &'a str, key: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(async move {
            match self.send(&CreateRefund::new().payment_intent(intent_id), Some(key)).await {
                Ok(_) => Ok(()),
                Err(GatewayError::Rejected { code, .. }) if code == "charge_already_refunded" => Ok(()),
                Err(err) => Err(err),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_transient_and_config_is_not() {
        assert!(classify(StripeError::Timeout).is_transient());
        assert!(classify(StripeError::ClientError("refused".into())).is_transient());
        assert!(classify(StripeError::JSONDeserialize("<html>".into())).is_transient());
        assert!(!classify(StripeError::ConfigError("bad key".into())).is_transient());
    }
}
