//! What runner positions cost PostgreSQL: N online runners seeded straight
//! into the database, then the `LocationWriter`'s own statement
//! (`kilat::db::tracking::write_positions`, every runner's newest position
//! in one UPDATE) run once a second with a new position for each of them,
//! as a node flushes. Prints each batch's time, and rows/s = N / batch time
//! (the ceiling of one PostgreSQL connection for positions). The capacity
//! model (docs/CAPACITY.md) reads it. Removes what it seeded when it ends,
//! and vacuums `runners`.
//!
//! ```text
//! KILAT_ENVIRONMENT=local target/release/location_bench --runners 25000 --batches 10
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kilat::db::tracking::{LatestPosition, write_positions};
use rand::Rng;

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    user_id: uuid::Uuid,
}

#[actix_web::main]
async fn main() {
    let mut runners: i64 = 25_000;
    let mut batches = 10;
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--runners" => runners = v.parse().expect("--runners N"),
            "--batches" => batches = v.parse().expect("--batches N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let settings = kilat::config::Settings::load().expect("configuration");
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut db = AsyncPgConnection::establish(&settings.database.url).await.expect("database");

    kilat_tools::seed_runners(&mut db, &format!("bench-loc-{tag}-"), runners, "x").await.unwrap();
    diesel::sql_query("ANALYZE runners").execute(&mut db).await.unwrap();
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT r.user_id FROM runners r JOIN users u ON u.id = r.user_id WHERE u.email LIKE 'bench-loc-' || $1 || '-%'",
    )
    .bind::<Text, _>(&tag)
    .load(&mut db)
    .await
    .unwrap();
    println!("seeded {} online runners; one UPDATE of every runner's position a second, {batches} times", ids.len());

    let mut times = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for _ in 0..batches {
        tick.tick().await;
        let now = chrono::Utc::now();
        let mut rng = rand::rng();
        let batch: Vec<LatestPosition> = ids
            .iter()
            .map(|id| LatestPosition {
                runner_id: id.user_id,
                latitude: 3.00 + rng.random_range(0.0..0.30),
                longitude: 101.55 + rng.random_range(0.0..0.25),
                at: now,
            })
            .collect();
        let started = Instant::now();
        let written = write_positions(&mut db, &batch).await.unwrap();
        let took = started.elapsed();
        assert_eq!(written, ids.len(), "every runner moved");
        println!("  batch of {written}: {:.1} ms", took.as_secs_f64() * 1000.0);
        times.push(took.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "positions: {} rows per batch, median {:.1} ms -> {:.0} rows/s on one connection ({:.1} µs per row)",
        ids.len(),
        median * 1000.0,
        ids.len() as f64 / median,
        median * 1e6 / ids.len() as f64
    );

    diesel::sql_query("DELETE FROM users WHERE email LIKE 'bench-loc-' || $1 || '-%'")
        .bind::<Text, _>(&tag)
        .execute(&mut db)
        .await
        .unwrap();
    // Every UPDATE left a dead row and dead entries in the spatial indexes
    // (the position is indexed, so no update is HOT). Without a vacuum
    // (autovacuum is off on the bench machines) every later dispatch search
    // walks them.
    diesel::sql_query("VACUUM ANALYZE runners").execute(&mut db).await.unwrap();
}
