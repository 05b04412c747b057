//! Whether a socket's user may still be served: not banned, the session the
//! socket was opened with not ended, no "sign out everywhere" since.
//!
//! Three paths close a socket whose standing is gone:
//! - **pushed**: a ban, logout or reset publishes `SessionEnded` on the
//!   user's channel, which every socket of the user (on every node) hears;
//! - **re-checked**: after the bus resubscribes (Redis was away, a push may
//!   be lost) and every [`Standing::every`] on the heartbeat, the socket
//!   reads its standing again (one primary-key read);
//! - **before a consequential command** (`offer.accept`), always.

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws;
use uuid::Uuid;

use crate::db::{PgPool, users};
use crate::domain::bus::BusPayload;

/// Close code and reason of a socket whose session is over (RFC 6455 1008).
pub fn ended_reason() -> ws::CloseReason {
    ws::CloseReason { code: ws::CloseCode::Policy, description: Some("session ended".into()) }
}

/// The user's session is over: close the socket with 1008 on this node.
pub fn end<A>(ctx: &mut ws::WebsocketContext<A>)
where
    A: Actor<Context = ws::WebsocketContext<A>>,
{
    ctx.close(Some(ended_reason()));
    ctx.stop();
}

/// Reads the standing again in the background; closes the socket when it
/// is gone (a database that cannot say leaves the socket open).
pub fn recheck<A>(standing: &Standing, actor: &A, ctx: &mut ws::WebsocketContext<A>)
where
    A: Actor<Context = ws::WebsocketContext<A>>,
{
    ctx.spawn(standing.check().into_actor(actor).map(|standing, _, ctx| {
        if let Ok(false) = standing {
            end(ctx);
        }
    }));
}

/// What `payload` means for a socket opened in session `own`.
fn hear(own: Option<Uuid>, payload: &BusPayload) -> Heard {
    match payload {
        BusPayload::SessionEnded { session_id: None } => Heard::Ended,
        BusPayload::SessionEnded { session_id: Some(ended) } if Some(*ended) == own => Heard::Ended,
        BusPayload::Resubscribed => Heard::Recheck,
        _ => Heard::Other,
    }
}

#[derive(Clone)]
pub struct Standing {
    pub pool: PgPool,
    pub user_id: Uuid,
    pub session_id: Option<Uuid>,
    pub token_version: i32,
    /// How often an otherwise quiet socket re-reads its standing.
    pub every: Duration,
    last_checked: Instant,
}

/// What a message on the user's channel means for this socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// This socket's session is over: close it.
    Ended,
    /// Messages may have been missed: re-check.
    Recheck,
    Other,
}

impl Standing {
    pub fn new(pool: PgPool, user_id: Uuid, session_id: Option<Uuid>, token_version: i32, every: Duration) -> Self {
        Self { pool, user_id, session_id, token_version, every, last_checked: Instant::now() }
    }

    pub fn hear(&self, payload: &BusPayload) -> Heard {
        hear(self.session_id, payload)
    }

    /// True when the periodic re-check is due (and marks it done).
    pub fn due(&mut self) -> bool {
        if self.last_checked.elapsed() < self.every {
            return false;
        }
        self.last_checked = Instant::now();
        true
    }

    /// Reads the standing: `Ok(false)` when the user may no longer be
    /// served, `Err` when the database could not say.
    pub fn check(&self) -> impl Future<Output = Result<bool, crate::error::AppError>> + 'static {
        let (pool, user_id, session_id, tv) = (self.pool.clone(), self.user_id, self.session_id, self.token_version);
        async move {
            let mut conn = pool.get().await?;
            let state = users::auth_state(&mut conn, user_id, session_id).await?;
            Ok(state.is_some_and(|s| s.in_good_standing(tv)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_session_or_all_sessions_end_a_socket() {
        let mine = Uuid::new_v4();
        let ended = |sid| BusPayload::SessionEnded { session_id: sid };
        assert_eq!(hear(Some(mine), &ended(None)), Heard::Ended);
        assert_eq!(hear(Some(mine), &ended(Some(mine))), Heard::Ended);
        assert_eq!(hear(Some(mine), &ended(Some(Uuid::new_v4()))), Heard::Other);
        // A socket from before sessions existed ends only with all of them.
        assert_eq!(hear(None, &ended(Some(mine))), Heard::Other);
        assert_eq!(hear(None, &ended(None)), Heard::Ended);
        assert_eq!(hear(Some(mine), &BusPayload::Resubscribed), Heard::Recheck);
        assert_eq!(hear(Some(mine), &BusPayload::Refresh), Heard::Other);
    }
}
