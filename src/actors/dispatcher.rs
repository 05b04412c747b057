//! The `Dispatcher` (one per node): pushes each requested booking to the
//! best runner, one offer at a time.
//!
//! A booking is dispatched by the node holding its lease (`booking_dispatch`,
//! renewed while the round runs; a sweeper on every node claims lapsed
//! ones). A round searches online, idle runners whose crates fit with one
//! PostGIS KNN query, filters them by the quality policy, ranks them, and
//! reserves the best in Redis (`SET NX PX`) so no two dispatchers offer the
//! same runner at once. The offer goes to the runner's `/ws` on whichever
//! node holds it (their user channel). Decline or timeout → the next
//! candidate; nobody left → the radius doubles up to the maximum; still
//! nobody → the booking stays in the open pool and is retried later. The
//! assignment itself is the ordinary conditional accept: the database
//! decides, exactly one runner wins.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::bus::Bus;
use super::messages::{
    BusMessage, DispatchBooking, DispatchStats, GetDispatchStats, Kick, Publish, StopActor, Subscribe, Unsubscribe,
};
use super::registry::next_id;
use super::relay::Relay;
use crate::config::DispatchSettings;
use crate::db::redis::{HeldOffer, RedisHandle, sockets_key};
use crate::db::{PgPool, bookings, dispatch};
use crate::domain::bus::{BusPayload, booking_channel, dispatch_channel, user_channel};
use crate::domain::dispatch::{Ranked, RankingPolicy, rank, widen};
use crate::domain::eligibility::QualityPolicy;
use crate::domain::frames;
use crate::domain::pricing::platform_fee_cents;
use crate::error::AppError;

pub struct DispatchDeps {
    /// This node's identity in `booking_dispatch` leases.
    pub node: Arc<str>,
    pub pool: PgPool,
    pub redis: RedisHandle,
    pub bus: Addr<Bus>,
    pub relay: Addr<Relay>,
    pub prefix: String,
    pub settings: DispatchSettings,
    pub quality: Arc<dyn QualityPolicy>,
    pub ranking: Arc<dyn RankingPolicy>,
    pub fee_percent: i64,
    /// The node's dispatch series; the admin stats read them too.
    pub metrics: crate::metrics::DispatchMetrics,
}

struct OpenOffer {
    runner_id: Uuid,
    offer_id: Uuid,
    timer: SpawnHandle,
}

struct Round {
    subscriber_id: u64,
    radius_km: f64,
    tried: HashSet<Uuid>,
    offers: usize,
    offer: Option<OpenOffer>,
    searching: bool,
    /// When the booking was created (known after the first search).
    created_at: Option<chrono::DateTime<Utc>>,
    /// Loaded once per round: what an offer shows.
    booking: Option<Arc<bookings::Booking>>,
}

pub struct Dispatcher {
    node: String,
    deps: DispatchDeps,
    rounds: HashMap<Uuid, Round>,
    first_offer_ms: VecDeque<f64>,
    assignment_ms: VecDeque<f64>,
}

/// When the owner's "searching" notice is written after a round starts,
/// for a booking dispatched later than its create (a scheduled trip's
/// time, escrow held, back in the pool); one dispatched at its create has
/// it from the create's transaction.
const SEARCHING_NOTICE_AFTER: Duration = Duration::from_millis(50);

/// Latency samples kept for the percentiles.
const SAMPLES: usize = 10_000;

enum Search {
    /// Offered to a runner (reserved in Redis): the rendered frame.
    Offered {
        runner_id: Uuid,
        offer_id: Uuid,
        frame: serde_json::Value,
        /// What the `booking.offered` event adds.
        extra: serde_json::Value,
        booking: Arc<bookings::Booking>,
        radius_km: f64,
    },
    /// Nobody (left) within the widest radius, or enough offers this pass.
    Exhausted,
    /// The booking is no longer waiting for a runner.
    Gone,
}

fn push_sample(samples: &mut VecDeque<f64>, v: f64) {
    if samples.len() == SAMPLES {
        samples.pop_front();
    }
    samples.push_back(v);
}

fn percentile(samples: &VecDeque<f64>, p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted: Vec<f64> = samples.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl Dispatcher {
    pub fn new(deps: DispatchDeps) -> Self {
        Self {
            node: deps.node.to_string(),
            deps,
            rounds: HashMap::new(),
            first_offer_ms: VecDeque::new(),
            assignment_ms: VecDeque::new(),
        }
    }

    fn lease_secs(&self) -> f64 {
        self.deps.settings.lease_secs as f64
    }

    fn publish(&self, channel: String, payload: &BusPayload) {
        let payload = serde_json::to_string(payload).unwrap_or_default();
        self.deps.bus.do_send(Publish { channel, payload });
    }

    /// Claimed bookings start a round (once per booking on this node);
    /// `booking` as just committed, when known.
    fn start_round(&mut self, booking_id: Uuid, booking: Option<Arc<bookings::Booking>>, ctx: &mut Context<Self>) {
        if self.rounds.contains_key(&booking_id) {
            return;
        }
        let subscriber_id = next_id();
        for channel in [booking_channel(&self.deps.prefix, booking_id), dispatch_channel(&self.deps.prefix, booking_id)]
        {
            self.deps.bus.do_send(Subscribe { channel, subscriber_id, recipient: ctx.address().recipient() });
        }
        self.rounds.insert(
            booking_id,
            Round {
                subscriber_id,
                radius_km: self.deps.settings.radius_start_km,
                tried: HashSet::new(),
                offers: 0,
                offer: None,
                searching: false,
                created_at: booking.as_ref().map(|b| b.created_at),
                booking,
            },
        );
        self.search(booking_id, ctx);
    }

    /// Ends a round: the open offer (if any) is withdrawn unless the runner
    /// took it, the reservation freed, the channels dropped.
    fn end_round(&mut self, booking_id: Uuid, taken_by: Option<Uuid>, ctx: &mut Context<Self>) {
        let Some(round) = self.rounds.remove(&booking_id) else {
            return;
        };
        for channel in [booking_channel(&self.deps.prefix, booking_id), dispatch_channel(&self.deps.prefix, booking_id)]
        {
            self.deps.bus.do_send(Unsubscribe { channel, subscriber_id: round.subscriber_id });
        }
        if let Some(offer) = round.offer {
            ctx.cancel_future(offer.timer);
            self.release(offer.runner_id, HeldOffer { booking_id, offer_id: offer.offer_id }, ctx);
            if taken_by != Some(offer.runner_id) {
                self.deps.metrics.offer("withdrawn");
                let closed = BusPayload::OfferClosed { booking_id, reason: "withdrawn".into() };
                self.publish(user_channel(&self.deps.prefix, offer.runner_id), &closed);
            }
        }
        let (pool, node) = (self.deps.pool.clone(), self.node.clone());
        ctx.spawn(
            async move {
                if let Ok(mut conn) = pool.get().await {
                    let _ = dispatch::release(&mut conn, booking_id, &node).await;
                }
            }
            .into_actor(self),
        );
    }

    fn release(&self, runner_id: Uuid, offer: HeldOffer, ctx: &mut Context<Self>) {
        let redis = self.deps.redis.clone();
        ctx.spawn(
            async move {
                // a lapsed reservation frees itself (its TTL)
                let _ = redis.release_offer(runner_id, offer).await;
            }
            .into_actor(self),
        );
    }

    /// Finds, reserves and offers the next candidate (one search at a time
    /// per booking).
    fn search(&mut self, booking_id: Uuid, ctx: &mut Context<Self>) {
        let Some(round) = self.rounds.get_mut(&booking_id) else {
            return;
        };
        if round.searching || round.offer.is_some() {
            return;
        }
        round.searching = true;
        let settings = self.deps.settings.clone();
        let (pool, redis, prefix) = (self.deps.pool.clone(), self.deps.redis.clone(), self.deps.prefix.clone());
        let (quality, ranking, fee) = (self.deps.quality.clone(), self.deps.ranking.clone(), self.deps.fee_percent);
        let tried: Vec<Uuid> = round.tried.iter().copied().collect();
        let (mut radius, offers, cached) = (round.radius_km, round.offers, round.booking.clone());
        let work = async move {
            if offers >= settings.max_offers_per_pass {
                return Ok::<_, AppError>(Search::Exhausted);
            }
            let mut conn = pool.get().await?;
            let booking = match cached {
                Some(booking) => booking,
                None => match bookings::find(&mut conn, booking_id).await? {
                    Some(b)
                        if b.status == crate::domain::booking::BookingStatus::Requested && b.runner_id.is_none() =>
                    {
                        Arc::new(b)
                    }
                    _ => return Ok(Search::Gone),
                },
            };
            let pickup = (booking.pickup_lat, booking.pickup_lng);
            // One query at the widest radius: the nearest 20 within it,
            // filtered to each ring below, are exactly the nearest 20 a
            // query at that ring's radius would return.
            let found = dispatch::candidates(&mut conn, booking_id, pickup, settings.radius_max_km, &tried, 20).await?;
            drop(conn);
            let eligible: Vec<Ranked> = found
                .iter()
                .filter(|c| quality.check(c.runner.rating, c.runner.total_trips, c.runner.completion_rate).is_ok())
                .map(|c| Ranked {
                    runner_id: c.runner.user_id,
                    score: ranking.score(c.distance_km, c.runner.rating, c.runner.completion_rate),
                    distance_km: c.distance_km,
                })
                .collect();
            // Only runners who can see an offer: a live /ws socket on some node.
            let sets: Vec<String> = eligible.iter().map(|c| sockets_key(&prefix, c.runner_id)).collect();
            let live = redis.any_live(&sets, super::bus::now_ms()).await?;
            let live: Vec<Ranked> = eligible.into_iter().zip(live).filter(|(_, live)| *live).map(|(c, _)| c).collect();
            let mut busy: HashSet<Uuid> = HashSet::new();
            loop {
                let ring = live.iter().filter(|c| c.distance_km <= radius && !busy.contains(&c.runner_id)).cloned();
                for candidate in rank(ring.collect()) {
                    let offer_id = Uuid::new_v4();
                    let held = HeldOffer { booking_id, offer_id };
                    let ttl_ms = settings.offer_timeout_ms + 2_000;
                    if !redis.reserve_offer(candidate.runner_id, held, ttl_ms).await? {
                        busy.insert(candidate.runner_id); // another dispatcher is offering them a job
                        continue;
                    }
                    let now = Utc::now();
                    let expires_at = now + chrono::Duration::milliseconds(settings.offer_timeout_ms as i64);
                    let payout = booking.estimated_price_cents - platform_fee_cents(booking.estimated_price_cents, fee);
                    let frame = frames::offer(&frames::OfferView {
                        offer_id,
                        booking_id,
                        booking_number: &booking.booking_number,
                        pet_spec: &booking.pet_spec,
                        crate_requirement: &booking.crate_requirement,
                        pickup: &booking.pickup_address,
                        dropoff: &booking.dropoff_address,
                        pickup_distance_km: candidate.distance_km,
                        estimated_price_cents: booking.estimated_price_cents,
                        runner_payout_cents: payout,
                        expires_at,
                    });
                    let extra = json!({"offer_id": offer_id, "pickup_distance_km": frame["pickup_distance_km"],
                                       "expires_at": frame["expires_at"]});
                    return Ok(Search::Offered {
                        runner_id: candidate.runner_id,
                        offer_id,
                        frame,
                        extra,
                        booking: booking.clone(),
                        radius_km: radius,
                    });
                }
                match widen(radius, settings.radius_max_km) {
                    Some(next) => radius = next,
                    None => return Ok(Search::Exhausted),
                }
            }
        };
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            let Some(round) = act.rounds.get_mut(&booking_id) else {
                // The round ended meanwhile: give back what was reserved.
                if let Ok(Search::Offered { runner_id, offer_id, .. }) = result {
                    act.release(runner_id, HeldOffer { booking_id, offer_id }, ctx);
                }
                return;
            };
            round.searching = false;
            match result {
                Ok(Search::Offered { runner_id, offer_id, frame, extra, booking, radius_km }) => {
                    let created_at = booking.created_at;
                    round.radius_km = radius_km;
                    round.created_at = Some(created_at);
                    round.booking = Some(booking);
                    round.offers += 1;
                    let timeout = Duration::from_millis(act.deps.settings.offer_timeout_ms);
                    let timer =
                        ctx.run_later(timeout, move |act, ctx| act.close_offer(booking_id, runner_id, "expired", ctx));
                    round.offer = Some(OpenOffer { runner_id, offer_id, timer });
                    act.deps.metrics.offer("sent");
                    if round.offers == 1 {
                        let ms = (Utc::now() - created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                        push_sample(&mut act.first_offer_ms, ms);
                        act.deps.metrics.time_to_offer.observe(ms / 1000.0);
                    }
                    // The offer first; its audit event right after, off the hot path.
                    act.publish(user_channel(&act.deps.prefix, runner_id), &BusPayload::Offer { frame });
                    act.record(booking_id, runner_id, "offered", extra, ctx);
                }
                Ok(Search::Exhausted) => act.finish_pass(booking_id, ctx),
                Ok(Search::Gone) => act.end_round(booking_id, None, ctx),
                Err(err) => {
                    tracing::warn!(error = %err, %booking_id, "dispatch search failed; retrying");
                    ctx.run_later(Duration::from_millis(500), move |act, ctx| act.search(booking_id, ctx));
                }
            }
        }));
    }

    /// The open offer ended without the runner taking it (`expired` or
    /// `declined`): free the runner and try the next candidate.
    fn close_offer(&mut self, booking_id: Uuid, runner_id: Uuid, reason: &str, ctx: &mut Context<Self>) {
        let Some(round) = self.rounds.get_mut(&booking_id) else {
            return;
        };
        let Some(offer) = round.offer.take_if(|o| o.runner_id == runner_id) else {
            return;
        };
        ctx.cancel_future(offer.timer);
        round.tried.insert(runner_id);
        match reason {
            "expired" => {
                self.deps.metrics.offer("expired");
                let closed = BusPayload::OfferClosed { booking_id, reason: "expired".into() };
                self.publish(user_channel(&self.deps.prefix, runner_id), &closed);
            }
            _ => self.deps.metrics.offer("declined"),
        }
        self.release(runner_id, HeldOffer { booking_id, offer_id: offer.offer_id }, ctx);
        let kind = if reason == "expired" { "offer_expired" } else { "offer_declined" };
        self.record(booking_id, runner_id, kind, json!({}), ctx);
        self.search(booking_id, ctx);
    }

    /// Appends `booking.<kind>` about the offered runner to the booking's
    /// stream and has it published: the dispatcher's one after-commit step.
    fn record(
        &self,
        booking_id: Uuid,
        runner_id: Uuid,
        kind: &'static str,
        extra: serde_json::Value,
        ctx: &mut Context<Self>,
    ) {
        let (pool, relay) = (self.deps.pool.clone(), self.deps.relay.clone());
        let at = Utc::now();
        ctx.spawn(
            async move {
                let mut conn = pool.get().await?;
                dispatch::record_event(&mut conn, booking_id, runner_id, kind, at, extra).await?;
                relay.do_send(Kick);
                Ok::<_, AppError>(())
            }
            .into_actor(self)
            .map(move |result, _, _| {
                if let Err(err) = result {
                    tracing::warn!(error = %err, kind, "dispatch event not recorded");
                }
            }),
        );
    }

    /// Nobody took it this pass: the booking waits in the open pool and is
    /// retried after `retry_interval_secs`; the owner hears about it once.
    fn finish_pass(&mut self, booking_id: Uuid, ctx: &mut Context<Self>) {
        self.deps.metrics.passes_without_runner.inc();
        let (pool, node, retry, relay) = (
            self.deps.pool.clone(),
            self.node.clone(),
            self.deps.settings.retry_interval_secs as f64,
            self.deps.relay.clone(),
        );
        if let Some(round) = self.rounds.remove(&booking_id) {
            for channel in
                [booking_channel(&self.deps.prefix, booking_id), dispatch_channel(&self.deps.prefix, booking_id)]
            {
                self.deps.bus.do_send(Unsubscribe { channel, subscriber_id: round.subscriber_id });
            }
        }
        ctx.spawn(
            async move {
                let mut conn = pool.get().await?;
                let passes = dispatch::finish_pass(&mut conn, booking_id, &node, retry).await?;
                if passes == 1 {
                    dispatch::notify_owner(&mut conn, booking_id, "no_runner_yet").await?;
                    relay.do_send(Kick);
                }
                Ok::<_, AppError>(())
            }
            .into_actor(self)
            .map(|result, _, _| {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "dispatch pass not recorded");
                }
            }),
        );
    }

    /// Which bookings may be dispatched now: with trigger `escrow_held` only
    /// those whose money is held; a scheduled one from its lead time.
    fn gate(&self) -> dispatch::Gate {
        dispatch::Gate {
            require_held: self.deps.settings.trigger == crate::config::DispatchTrigger::EscrowHeld,
            schedule_lead_secs: self.deps.settings.schedule().lead_secs(),
        }
    }

    fn claim_due(&mut self, ctx: &mut Context<Self>) {
        if !self.deps.settings.enabled {
            return;
        }
        let (pool, node, lease) = (self.deps.pool.clone(), self.node.clone(), self.lease_secs());
        let gate = self.gate();
        let work = async move {
            let mut conn = pool.get().await?;
            dispatch::claim_due(&mut conn, &node, lease, 50, gate).await
        };
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| match result {
            // a first dispatch (a scheduled trip's time) tells the owner; a
            // retry or a takeover searches quietly
            Ok(ids) => {
                ids.into_iter().for_each(
                    |(id, first)| {
                        if first { act.begin(id, None, ctx) } else { act.start_round(id, None, ctx) }
                    },
                )
            }
            Err(err) => tracing::warn!(error = %err, "dispatch sweep failed"),
        }));
    }

    fn renew(&mut self, ctx: &mut Context<Self>) {
        let ids: Vec<Uuid> = self.rounds.keys().copied().collect();
        if ids.is_empty() {
            return;
        }
        let (pool, node, lease) = (self.deps.pool.clone(), self.node.clone(), self.lease_secs());
        let work = async move {
            let mut conn = pool.get().await?;
            dispatch::renew(&mut conn, &node, &ids, lease).await.map(|kept| (ids, kept))
        };
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| match result {
            Ok((ids, kept)) => {
                let kept: HashSet<Uuid> = kept.into_iter().collect();
                for id in ids.into_iter().filter(|id| !kept.contains(id)) {
                    act.end_round(id, None, ctx);
                }
            }
            Err(err) => tracing::warn!(error = %err, "dispatch lease renewal failed"),
        }));
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
        let sweep = Duration::from_millis(self.deps.settings.sweep_interval_ms);
        ctx.run_interval(sweep, |act, ctx| act.claim_due(ctx));
        let renew = Duration::from_secs_f64((self.lease_secs() / 3.0).max(0.2));
        ctx.run_interval(renew, |act, ctx| act.renew(ctx));
    }
}

impl Handler<DispatchBooking> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: DispatchBooking, ctx: &mut Self::Context) {
        let DispatchBooking { booking_id, booking, claimed } = msg;
        if claimed {
            // the creating transaction took the lease and told the owner
            return self.start_round(booking_id, booking, ctx);
        }
        let (pool, node, lease) = (self.deps.pool.clone(), self.node.clone(), self.lease_secs());
        let gate = self.gate();
        let work = async move {
            let mut conn = pool.get().await?;
            dispatch::claim(&mut conn, booking_id, &node, lease, gate).await
        };
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| match result {
            Ok(true) => act.begin(booking_id, booking, ctx),
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, %booking_id, "dispatch claim failed; the sweeper will retry"),
        }));
    }
}

impl Dispatcher {
    /// The lease is ours: search now, and tell the owner we are searching.
    fn begin(&mut self, booking_id: Uuid, booking: Option<Arc<bookings::Booking>>, ctx: &mut Context<Self>) {
        self.start_round(booking_id, booking, ctx);
        // The notice's transaction waits until the first search is done,
        // rather than competing with it for the same cores.
        ctx.run_later(SEARCHING_NOTICE_AFTER, move |act, ctx| {
            let (pool, relay) = (act.deps.pool.clone(), act.deps.relay.clone());
            ctx.spawn(
                async move {
                    let mut conn = pool.get().await?;
                    dispatch::notify_owner(&mut conn, booking_id, "searching").await?;
                    relay.do_send(Kick);
                    Ok::<_, AppError>(())
                }
                .into_actor(act)
                .map(|_, _, _| ()),
            );
        });
    }
}

impl Handler<BusMessage> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, ctx: &mut Self::Context) {
        let Ok(payload) = serde_json::from_str::<BusPayload>(&msg.payload) else {
            return;
        };
        match payload {
            BusPayload::Answer { runner_id, accept } => {
                let Some(booking_id) = msg.channel.rsplit(':').next().and_then(|id| Uuid::parse_str(id).ok()) else {
                    return;
                };
                if !accept {
                    self.close_offer(booking_id, runner_id, "declined", ctx);
                }
                // An accept shows up as the booking's status change below.
            }
            BusPayload::Event { event, .. } => {
                let data = &event["data"];
                let (Some(booking_id), Some(new_status)) =
                    (data["booking_id"].as_str().and_then(|b| Uuid::parse_str(b).ok()), data["new_status"].as_str())
                else {
                    return;
                };
                if new_status == "requested" {
                    return;
                }
                let runner = data["runner_id"].as_str().and_then(|r| Uuid::parse_str(r).ok());
                let offered = self.rounds.get(&booking_id).and_then(|r| r.offer.as_ref()).map(|o| o.runner_id);
                if new_status == "accepted" && runner.is_some() && runner == offered {
                    self.deps.metrics.offer("matched");
                    if let Some(created) = self.rounds.get(&booking_id).and_then(|r| r.created_at) {
                        let ms = (Utc::now() - created).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                        push_sample(&mut self.assignment_ms, ms);
                        self.deps.metrics.time_to_assignment.observe(ms / 1000.0);
                    }
                    if let Some(runner) = runner {
                        self.record(booking_id, runner, "runner_matched", json!({}), ctx);
                    }
                }
                self.end_round(booking_id, runner.filter(|_| new_status == "accepted"), ctx);
            }
            _ => {}
        }
    }
}

/// Stops this node's dispatching (shutdown; tests simulate a crashed node):
/// its leases lapse and another node's sweeper takes the bookings over.
impl Handler<StopActor> for Dispatcher {
    type Result = ();

    fn handle(&mut self, _: StopActor, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<GetDispatchStats> for Dispatcher {
    type Result = DispatchStats;

    fn handle(&mut self, _: GetDispatchStats, _: &mut Self::Context) -> DispatchStats {
        DispatchStats {
            active_rounds: self.rounds.len(),
            first_offer_ms_p50: percentile(&self.first_offer_ms, 0.50),
            first_offer_ms_p99: percentile(&self.first_offer_ms, 0.99),
            assignment_ms_p50: percentile(&self.assignment_ms, 0.50),
            assignment_ms_p99: percentile(&self.assignment_ms, 0.99),
            offers_sent: self.deps.metrics.count("sent"),
            offers_declined: self.deps.metrics.count("declined"),
            offers_expired: self.deps.metrics.count("expired"),
            offers_withdrawn: self.deps.metrics.count("withdrawn"),
            matched: self.deps.metrics.count("matched"),
            passes_without_runner: self.deps.metrics.passes_without_runner.get(),
        }
    }
}
