//! Prometheus metrics (ARCHITECTURE.md, Operations): one registry per node,
//! rendered at `/metrics` in the text exposition format. Hot paths hold
//! cloned handles (counters and histograms are atomics behind an `Arc`);
//! what lives in the database (outbox lag, dead letters) and the pool's
//! state are read when Prometheus scrapes.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Latency buckets, seconds: 1 ms to 10 s.
const LATENCY: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Dispatch waits, seconds: 10 ms to 10 min.
const DISPATCH: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// HTTP requests by route template, method and status.
#[derive(Clone)]
pub struct HttpMetrics {
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.requests.with_label_values(&[route, method, &status]).inc();
        self.duration.with_label_values(&[route, method]).observe(seconds);
    }
}

/// The bus: its publish queue, Redis reconnects, pub/sub traffic.
#[derive(Clone)]
pub struct BusMetrics {
    pub queue_depth: IntGauge,
    pub reconnects: IntCounter,
    /// `direction` = `out` (published to Redis) or `in` (received from it)
    pub messages: IntCounterVec,
    pub dropped: IntCounter,
}

/// The dispatcher: offers by outcome, and how long bookings wait.
#[derive(Clone)]
pub struct DispatchMetrics {
    /// `outcome` = sent | declined | expired | withdrawn | matched
    pub offers: IntCounterVec,
    pub passes_without_runner: IntCounter,
    pub active_rounds: IntGauge,
    pub time_to_offer: Histogram,
    pub time_to_assignment: Histogram,
}

impl DispatchMetrics {
    pub fn offer(&self, outcome: &str) {
        self.offers.with_label_values(&[outcome]).inc();
    }

    pub fn count(&self, outcome: &str) -> u64 {
        self.offers.with_label_values(&[outcome]).get()
    }
}

/// The payment saga: steps by kind and outcome.
#[derive(Clone)]
pub struct SagaMetrics {
    /// `outcome` = done | retried | dead_lettered | error
    pub steps: IntCounterVec,
}

/// One open connection held in a gauge: counted while it lives.
pub struct Held(IntGauge);

impl Held {
    pub fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Read at scrape time.
#[derive(Clone)]
pub struct ScrapeGauges {
    pub outbox_pending: IntGauge,
    pub outbox_lag: prometheus::Gauge,
    pub dead_letters: IntGaugeVec,
    pub pool: IntGaugeVec,
    pub pool_waiting: IntGauge,
}

/// Every metric of a node, registered in its own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    /// open sockets, `kind` = app | tracking
    pub ws_connections: IntGaugeVec,
    pub bus: BusMetrics,
    pub dispatch: DispatchMetrics,
    pub saga: SagaMetrics,
    pub scrape: ScrapeGauges,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    let m = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

fn counter(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let m = IntCounter::new(name, help)?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

fn gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let m = IntGauge::new(name, help)?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    let m = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> prometheus::Result<Histogram> {
    let m = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        let duration = HistogramVec::new(
            HistogramOpts::new("kilat_http_request_duration_seconds", "HTTP request latency by route template")
                .buckets(LATENCY.to_vec()),
            &["route", "method"],
        )?;
        r.register(Box::new(duration.clone()))?;
        let http = HttpMetrics {
            requests: counter_vec(
                &r,
                "kilat_http_requests_total",
                "HTTP requests by route template, method and status",
                &["route", "method", "status"],
            )?,
            duration,
        };
        let ws_connections = gauge_vec(&r, "kilat_ws_connections", "Open WebSocket connections by kind", &["kind"])?;
        let bus = BusMetrics {
            queue_depth: gauge(&r, "kilat_bus_publish_queue_depth", "Publishes and key writes waiting for Redis")?,
            reconnects: counter(&r, "kilat_redis_reconnects_total", "Times the bus reconnected to Redis")?,
            messages: counter_vec(
                &r,
                "kilat_pubsub_messages_total",
                "Pub/sub messages published to (out) and received from (in) Redis",
                &["direction"],
            )?,
            dropped: counter(&r, "kilat_bus_dropped_publishes_total", "Publishes dropped with the queue full")?,
        };
        let dispatch = DispatchMetrics {
            offers: counter_vec(&r, "kilat_dispatch_offers_total", "Dispatch offers by outcome", &["outcome"])?,
            passes_without_runner: counter(
                &r,
                "kilat_dispatch_passes_without_runner_total",
                "Dispatch passes that found nobody",
            )?,
            active_rounds: gauge(&r, "kilat_dispatch_active_rounds", "Bookings this node is dispatching now")?,
            time_to_offer: histogram(
                &r,
                "kilat_dispatch_time_to_offer_seconds",
                "Booking created to its first offer",
                DISPATCH,
            )?,
            time_to_assignment: histogram(
                &r,
                "kilat_dispatch_time_to_assignment_seconds",
                "Booking created to a runner matched through an offer",
                DISPATCH,
            )?,
        };
        let saga = SagaMetrics {
            steps: counter_vec(
                &r,
                "kilat_saga_steps_total",
                "Payment saga steps by kind and outcome",
                &["step", "outcome"],
            )?,
        };
        let outbox_lag = prometheus::Gauge::new(
            "kilat_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event (0 when drained)",
        )?;
        r.register(Box::new(outbox_lag.clone()))?;
        let scrape = ScrapeGauges {
            outbox_pending: gauge(&r, "kilat_outbox_pending_events", "Outbox events not yet published")?,
            outbox_lag,
            dead_letters: gauge_vec(
                &r,
                "kilat_dead_letters",
                "Money steps waiting for an admin, by kind (payment, payout)",
                &["kind"],
            )?,
            pool: gauge_vec(&r, "kilat_db_pool_connections", "Database pool connections by state", &["state"])?,
            pool_waiting: gauge(&r, "kilat_db_pool_waiting", "Requests waiting for a pooled connection")?,
        };
        for kind in ["app", "tracking"] {
            ws_connections.with_label_values(&[kind]).set(0);
        }
        for direction in ["in", "out"] {
            bus.messages.with_label_values(&[direction]);
        }
        for outcome in ["sent", "declined", "expired", "withdrawn", "matched"] {
            dispatch.offers.with_label_values(&[outcome]);
        }
        Ok(Self { registry: r, http, ws_connections, bus, dispatch, saga, scrape })
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        // encoding metric families into a Vec cannot fail
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_renders_with_its_help_and_type() {
        let m = Metrics::new().unwrap();
        m.http.observe("/api/v1/bookings/{id}", "GET", 200, 0.004);
        m.dispatch.offer("sent");
        m.dispatch.time_to_offer.observe(0.2);
        let text = m.render();
        assert!(text.contains("# TYPE kilat_http_requests_total counter"), "{text}");
        assert!(
            text.contains(r#"kilat_http_requests_total{method="GET",route="/api/v1/bookings/{id}",status="200"} 1"#)
        );
        assert!(text.contains(
            r#"kilat_http_request_duration_seconds_bucket{method="GET",route="/api/v1/bookings/{id}",le="0.005"} 1"#
        ));
        assert!(text.contains(r#"kilat_dispatch_offers_total{outcome="sent"} 1"#));
        assert!(text.contains("kilat_dispatch_time_to_offer_seconds_count 1"));
        assert!(text.contains(r#"kilat_ws_connections{kind="app"} 0"#));
        assert_eq!(m.dispatch.count("sent"), 1);
        let held = Held::new(m.ws_connections.with_label_values(&["app"]));
        assert!(m.render().contains(r#"kilat_ws_connections{kind="app"} 1"#));
        drop(held);
        assert!(m.render().contains(r#"kilat_ws_connections{kind="app"} 0"#));
    }
}
