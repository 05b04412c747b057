//! What the tools share: latency histograms (HDR, so a percentile is read
//! from the recorded distribution, never from a hand-sorted sample).

use std::time::Duration;

use hdrhistogram::Histogram;

/// 1 µs .. 1 h, 3 significant figures.
pub fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
}

/// Records a latency in whole microseconds (clamped into the histogram's range).
pub fn record(h: &mut Histogram<u64>, latency: Duration) {
    h.saturating_record(latency.as_micros().clamp(1, 3_600_000_000) as u64);
}

/// A recorded value (microseconds) in milliseconds.
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// "p50 … ms  p99 … ms  max … ms" of a latency histogram.
pub fn percentiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// Seeds `n` online runners spread over greater Kuala Lumpur straight into
/// the database: users `<email_prefix><i>@example.my` with `password_hash`,
/// and their runner rows (on shift, positioned now). The benchmarks'
/// starting fleet; they delete the users (and so the runners) when done.
pub async fn seed_runners(
    db: &mut diesel_async::AsyncPgConnection,
    email_prefix: &str,
    n: i64,
    password_hash: &str,
) -> diesel::QueryResult<()> {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "INSERT INTO users (id, email, password_hash, full_name, role) \
         SELECT gen_random_uuid(), $1 || g || '@example.my', $2, 'Bench Runner ' || g, 'runner' \
         FROM generate_series(1, $3) g",
    )
    .bind::<Text, _>(email_prefix)
    .bind::<Text, _>(password_hash)
    .bind::<BigInt, _>(n)
    .execute(db)
    .await?;
    diesel::sql_query(
        "INSERT INTO runners (id, user_id, full_name, phone, vehicle_type, vehicle_plate, vehicle_model, air_conditioned, \
                              session_status, latitude, longitude, location_updated_at) \
         SELECT gen_random_uuid(), u.id, u.full_name, '', 'car', 'BENCH', 'Myvi', true, 'active', \
                3.00 + random() * 0.30, 101.55 + random() * 0.25, now() \
         FROM users u WHERE u.email LIKE $1 || '%'",
    )
    .bind::<Text, _>(email_prefix)
    .execute(db)
    .await?;
    Ok(())
}

/// One section of a Redis node's `INFO` (`host:port`), over a plain socket
/// (the inline protocol; the reply is one bulk string), as `field → value`.
pub fn redis_info(addr: &str, section: &str) -> std::io::Result<std::collections::HashMap<String, String>> {
    use std::io::{BufRead, BufReader, Read, Write};
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    (&stream).write_all(format!("INFO {section}\r\n").as_bytes())?;
    let mut reader = BufReader::new(&stream);
    let mut header = String::new();
    reader.read_line(&mut header)?;
    let len: usize = header
        .trim_end()
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected INFO reply: {header:?}")))?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect())
}

/// `calls` of one command in `INFO commandstats` (`cmdstat_spublish:calls=…,…`).
pub fn command_calls(stats: &std::collections::HashMap<String, String>, command: &str) -> u64 {
    stats
        .get(&format!("cmdstat_{command}"))
        .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) a Redis node has used (`INFO cpu`).
pub fn redis_cpu_secs(cpu: &std::collections::HashMap<String, String>) -> f64 {
    ["used_cpu_user", "used_cpu_sys"].iter().filter_map(|k| cpu.get(*k)?.parse::<f64>().ok()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_of_a_live_redis_is_read_and_its_command_counts_parsed() {
        // (make test starts Redis on :6379)
        let server = redis_info("127.0.0.1:6379", "server").unwrap();
        assert!(server.contains_key("redis_version"), "{server:?}");
        let stats: std::collections::HashMap<String, String> =
            [("cmdstat_spublish".to_owned(), "calls=42,usec=10,usec_per_call=0.24".to_owned())].into();
        assert_eq!(command_calls(&stats, "spublish"), 42);
        assert_eq!(command_calls(&stats, "publish"), 0);
        let cpu = redis_info("127.0.0.1:6379", "cpu").unwrap();
        assert!(redis_cpu_secs(&cpu) > 0.0);
    }

    #[test]
    fn percentiles_come_from_the_recorded_distribution() {
        let mut h = histogram().unwrap();
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        assert!((ms(h.value_at_quantile(0.5)) - 50.0).abs() < 0.1);
        assert!((ms(h.value_at_quantile(0.99)) - 99.0).abs() < 0.1);
        assert!(percentiles(&h).starts_with("p50 50.0"));
        assert_eq!(percentiles(&histogram().unwrap()), "no samples");
    }
}
