//! Use cases, one module per area. A use case parses its input into domain
//! types, runs one database transaction (through `db::`), and returns what
//! must happen after the commit as a [`Followup`]; [`Live::follow`] runs it.
//! REST handlers, `/ws` commands and background actors call the same
//! functions here, so no after-commit step is written twice.

pub mod applications;
pub mod bookings;
pub mod chat;
pub mod identity;
pub mod money;
pub mod ops;
pub mod payments;
pub mod payouts;
pub mod pets;
pub mod realtime;
pub mod reviews;
pub mod runners;
pub mod shops;

use std::sync::Arc;

use actix::Addr;
use uuid::Uuid;

use crate::actors::bus::Bus;
use crate::actors::dispatcher::Dispatcher;
use crate::actors::location_writer::LocationWriter;
use crate::actors::messages::{DispatchBooking, Kick, Publish, RefreshRunner, Touch};
use crate::actors::registry::Registry;
use crate::actors::relay::Relay;
use crate::config::{DispatchTrigger, Settings};
use crate::db::PgPool;
use crate::db::bookings::Booking;
use crate::db::redis::presence_key;
use crate::domain::bus::{BusPayload, user_channel};
use crate::domain::eligibility::QualityPolicy;
use crate::domain::pricing::PricingStrategy;
use crate::payments::escrow::Escrow;
use crate::payments::saga::PaymentSaga;

/// What the use cases run on: storage, policies, and the node's actors.
pub struct Services {
    pub pool: PgPool,
    /// Tokens, password hashing (on its bounded pool) and the reset mailer.
    pub credentials: Credentials,
    pub settings: Arc<Settings>,
    pub quality: Arc<dyn QualityPolicy>,
    pub pricing: Arc<dyn PricingStrategy>,
    pub escrow: Arc<Escrow>,
    /// Where cash-outs are paid (Stripe Connect transfers, or simulated).
    pub rail: Arc<dyn crate::payments::rail::PayoutRail>,
    pub live: Live,
}

/// What identity use cases sign and hash with.
pub struct Credentials {
    pub keys: crate::auth::TokenKeys,
    pub passwords: crate::auth::Passwords,
    pub hashing: crate::auth::HashPool,
    pub mailer: Arc<dyn crate::mailer::Mailer>,
}

/// The node's actors, started once in `Application::build`, and the one
/// place that signals them after a commit.
#[derive(Clone)]
pub struct Live {
    pub dispatcher: Addr<Dispatcher>,
    /// This node's dispatcher identity (the `node` of its leases).
    pub dispatch_node: Arc<str>,
    pub bus: Addr<Bus>,
    pub registry: Addr<Registry>,
    pub relay: Addr<Relay>,
    pub writer: Addr<LocationWriter>,
    pub saga: Addr<PaymentSaga>,
    pub settings: Arc<Settings>,
}

/// Why a booking is pushed to runners now.
#[derive(Debug)]
pub enum Dispatch {
    /// Just created, with this node's lease taken by the creating transaction.
    Created(Arc<Booking>),
    /// Back in the pool (a runner declined it).
    Reopened(Uuid),
    /// Its money is now held.
    EscrowHeld(Uuid),
    /// An operator asked for it to be searched again now.
    Retry(Uuid),
}

/// What must happen after a use case committed. Every field is a signal to
/// a live part of the node; none of them changes stored state, so a lost
/// signal only delays (the relay, saga and dispatcher also run on timers).
#[must_use = "a committed change's followup must be run (Live::follow)"]
#[derive(Debug, Default)]
pub struct Followup {
    /// Rows were added to the outbox: have the relay publish them now.
    pub published: bool,
    pub dispatch: Vec<Dispatch>,
    /// Runners whose trip changed here: this node's runner actor reloads
    /// before its next ping (other nodes learn from the relayed event).
    pub reload_runners: Vec<Uuid>,
    /// Users whose presence changed: every node's actors reload them.
    pub refresh_users: Vec<Uuid>,
    /// The runner is here now (presence key refreshed).
    pub present: Option<Uuid>,
    /// A payment saga step may be due.
    pub payment_step: bool,
    /// Sockets to close on every node: one session of the user (`Some`) or all.
    pub sessions_ended: Vec<(Uuid, Option<Uuid>)>,
}

impl Followup {
    /// Outbox rows were committed.
    pub fn published() -> Self {
        Self { published: true, ..Self::default() }
    }

    pub fn reload_runner(mut self, runner_id: Option<Uuid>) -> Self {
        self.reload_runners.extend(runner_id);
        self
    }

    pub fn refresh_user(mut self, user_id: Uuid) -> Self {
        self.refresh_users.push(user_id);
        self
    }

    pub fn dispatch(mut self, why: Dispatch) -> Self {
        self.dispatch.push(why);
        self
    }

    pub fn payment_step(mut self, due: bool) -> Self {
        self.payment_step |= due;
        self
    }

    pub fn end_sessions(mut self, user_id: Uuid, session_id: Option<Uuid>) -> Self {
        self.sessions_ended.push((user_id, session_id));
        self
    }

    pub fn present(mut self, runner_id: Uuid) -> Self {
        self.present = Some(runner_id);
        self
    }

    /// Both followups' signals.
    pub fn and(mut self, other: Followup) -> Self {
        self.published |= other.published;
        self.dispatch.extend(other.dispatch);
        self.reload_runners.extend(other.reload_runners);
        self.refresh_users.extend(other.refresh_users);
        self.present = self.present.or(other.present);
        self.payment_step |= other.payment_step;
        self.sessions_ended.extend(other.sessions_ended);
        self
    }
}

impl Live {
    fn prefix(&self) -> &str {
        &self.settings.redis.key_prefix
    }

    /// Bookings are pushed to runners when dispatch is on and `trigger` is
    /// the configured one.
    fn dispatches_on(&self, trigger: DispatchTrigger) -> bool {
        self.settings.dispatch.enabled && self.settings.dispatch.trigger == trigger
    }

    /// This node's dispatch lease, taken by the transaction that creates a
    /// booking (when dispatch is on and triggered at creation).
    pub fn creation_lease(&self) -> crate::db::bookings::Lease<'_> {
        self.dispatches_on(DispatchTrigger::Created)
            .then(|| (&*self.dispatch_node, self.settings.dispatch.lease_secs as f64))
    }

    fn publish(&self, user_id: Uuid, payload: &BusPayload) {
        let payload = serde_json::to_string(payload).unwrap_or_default();
        self.bus.do_send(Publish { channel: user_channel(self.prefix(), user_id), payload });
    }

    /// Runs a committed use case's followup (the only place that does).
    pub async fn follow(&self, f: Followup) {
        if f.published {
            self.relay.do_send(Kick);
        }
        if f.payment_step {
            self.saga.do_send(Kick);
        }
        for why in f.dispatch {
            let msg = match why {
                Dispatch::Created(booking) if self.dispatches_on(DispatchTrigger::Created) => {
                    DispatchBooking { booking_id: booking.id, booking: Some(booking), claimed: true }
                }
                Dispatch::Reopened(booking_id) if self.dispatches_on(DispatchTrigger::Created) => {
                    DispatchBooking { booking_id, booking: None, claimed: false }
                }
                Dispatch::EscrowHeld(booking_id) if self.dispatches_on(DispatchTrigger::EscrowHeld) => {
                    DispatchBooking { booking_id, booking: None, claimed: false }
                }
                Dispatch::Retry(booking_id) if self.settings.dispatch.enabled => {
                    DispatchBooking { booking_id, booking: None, claimed: false }
                }
                _ => continue,
            };
            self.dispatcher.do_send(msg);
        }
        if let Some(runner_id) = f.present {
            self.bus.do_send(Touch {
                key: presence_key(self.prefix(), runner_id),
                ttl_ms: self.settings.realtime.presence_grace_secs * 1000,
            });
        }
        for runner_id in f.reload_runners.iter().chain(&f.refresh_users) {
            // awaited: the caller's next request sees its own change
            let _ = self.registry.send(RefreshRunner { runner_id: *runner_id }).await;
        }
        for user_id in f.refresh_users {
            self.publish(user_id, &BusPayload::Refresh);
        }
        for (user_id, session_id) in f.sessions_ended {
            self.publish(user_id, &BusPayload::SessionEnded { session_id });
        }
    }
}
