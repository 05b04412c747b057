//! Layered settings: `config/base.toml`, then `config/<environment>.toml`,
//! then environment variables `KILAT__SECTION__KEY`.
//!
//! The environment is chosen by `KILAT_ENVIRONMENT` (`local` by default).

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "local" | "development" | "dev" => Ok(Environment::Local),
            "test" => Ok(Environment::Test),
            "production" | "prod" => Ok(Environment::Production),
            other => {
                Err(ConfigError::Invalid(format!("KILAT_ENVIRONMENT must be local, test or production, not '{other}'")))
            }
        }
    }
}

/// When a new booking is pushed to runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchTrigger {
    /// As soon as it is requested.
    Created,
    /// Only once its payment is held in escrow.
    EscrowHeld,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// async-stripe, manual-capture PaymentIntents.
    Stripe,
    /// Holds succeed at once, no money moves (local and test only).
    Simulated,
}

/// The runner quality bar (`domain::eligibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityPolicyName {
    Standard,
    FiveStar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration is invalid: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip, default = "default_environment")]
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub marketplace: MarketplaceSettings,
    pub realtime: RealtimeSettings,
    pub dispatch: DispatchSettings,
    pub payments: PaymentSettings,
    pub payouts: PayoutSettings,
    pub metrics: MetricsSettings,
    pub console: ConsoleSettings,
    pub log: LogSettings,
}

/// The operator console at `/console`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Map tiles, `https://…/{z}/{x}/{y}.png`; empty: a plain projection with no tiles.
    pub tile_url: String,
}

/// `/metrics` on the main port (never rate-limited).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
}

fn default_environment() -> Environment {
    Environment::Local
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub json_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// On SIGTERM, readiness answers 503 this long before the listener
    /// closes and sockets are told to leave.
    pub drain_delay_ms: u64,
    pub trust_forwarded_for: bool,
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_max_size: usize,
    pub pool_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// One Redis, or the seed node(s) of a Redis Cluster: several URLs,
    /// comma-separated, name a cluster by themselves.
    pub url: String,
    /// The URL names (a seed node of) a Redis Cluster: channels travel by
    /// sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`), keys through the cluster.
    #[serde(default)]
    pub cluster: bool,
    pub key_prefix: String,
    pub command_timeout_ms: u64,
}

impl RedisSettings {
    /// The seed URLs when this names a Redis Cluster, `None` for one Redis.
    pub fn cluster_seeds(&self) -> Option<Vec<String>> {
        let seeds: Vec<String> =
            self.url.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
        (self.cluster || seeds.len() > 1).then_some(seeds)
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 key: never printed, wiped when dropped.
    pub jwt_secret: SecretString,
    pub issuer: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub reset_ttl_secs: i64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// A rotated refresh token presented again within this many seconds (a
    /// second tab refreshing at the same moment) gets a sibling pair instead
    /// of being treated as theft.
    pub refresh_reuse_grace_secs: i64,
    /// Password hashes computed at once (each holds `argon2_memory_kib`);
    /// 0 = one per core.
    pub password_hash_concurrency: usize,
    /// Logins and registrations waiting for a hashing slot; past this they
    /// get 503 with Retry-After.
    pub password_hash_queue: usize,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub auth_per_minute: u32,
    pub api_per_minute: u32,
    pub window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketplaceSettings {
    pub platform_fee_percent: i64,
    pub quality_policy: QualityPolicyName,
    /// Registering as a runner needs an approved runner application.
    pub runner_signup_requires_approval: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeSettings {
    pub relay_interval_ms: u64,
    pub location_flush_ms: u64,
    pub runner_idle_secs: u64,
    /// Threads the runner and booking actors are spread over (by id); 0:
    /// on the registry's own thread, with the bus.
    pub actor_shards: usize,
    pub ws_heartbeat_secs: u64,
    pub ws_client_timeout_secs: u64,
    pub ws_max_frame_bytes: usize,
    pub ws_max_frames_per_sec: u32,
    pub presence_grace_secs: u64,
    pub notifier_interval_ms: u64,
    pub ws_standing_check_secs: u64,
    pub ws_max_sockets_per_user: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchSettings {
    pub enabled: bool,
    pub trigger: DispatchTrigger,
    pub radius_start_km: f64,
    pub radius_max_km: f64,
    pub offer_timeout_ms: u64,
    pub max_offers_per_pass: usize,
    pub retry_interval_secs: u64,
    pub lease_secs: u64,
    pub sweep_interval_ms: u64,
    pub rating_weight_km: f64,
    pub completion_weight_km: f64,
    /// A scheduled booking is dispatched this many minutes before its time.
    pub schedule_lead_minutes: f64,
    /// Its owner is reminded this many minutes before its time.
    pub schedule_reminder_minutes: f64,
}

impl DispatchSettings {
    pub fn schedule(&self) -> crate::domain::schedule::Schedule {
        crate::domain::schedule::Schedule {
            lead_minutes: self.schedule_lead_minutes,
            reminder_minutes: self.schedule_reminder_minutes,
        }
    }
}

/// Runners' cash-outs (docs/API.md#cash-out). The rail follows
/// `payments.provider`: Stripe Connect transfers, or simulated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutSettings {
    /// Charged on every cash-out, sen.
    pub fee_cents: i64,
    /// A cash-out is sent to the rail this long after it is requested.
    pub rail_delay_secs: u64,
    /// How often each node looks for due cash-outs.
    pub interval_ms: u64,
    /// Rail attempts before a cash-out is dead-lettered for an admin.
    pub attempts: i32,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// A node's claim on a cash-out while it calls the rail.
    pub lease_secs: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub provider: PaymentProvider,
    pub stripe_api_base: String,
    pub stripe_secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub request_timeout_ms: u64,
    pub request_attempts: u32,
    pub request_backoff_ms: u64,
    pub saga_interval_ms: u64,
    pub saga_attempts: i32,
    pub saga_backoff_ms: u64,
    pub saga_backoff_max_ms: u64,
    pub saga_lease_secs: u64,
    pub auto_confirm_hours: f64,
}

impl std::fmt::Debug for PaymentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSettings")
            .field("provider", &self.provider)
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_secret_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("request_attempts", &self.request_attempts)
            .field("saga_attempts", &self.saga_attempts)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl Settings {
    /// Reads settings from `config/` (or `KILAT_CONFIG_DIR`) and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let environment = match std::env::var("KILAT_ENVIRONMENT") {
            Ok(raw) => Environment::parse(&raw)?,
            Err(_) => Environment::Local,
        };
        let dir = std::env::var("KILAT_CONFIG_DIR").unwrap_or_else(|_| "config".to_owned());
        Self::load_from(Path::new(&dir), environment)
    }

    pub fn load_from(dir: &Path, environment: Environment) -> Result<Self, ConfigError> {
        let raw = config::Config::builder()
            .add_source(config::File::from(dir.join("base.toml")).required(true))
            .add_source(config::File::from(dir.join(format!("{}.toml", environment.as_str()))).required(false))
            .add_source(
                config::Environment::with_prefix("KILAT")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("server.cors_origins")
                    .try_parsing(true),
            )
            .build()?;
        let mut settings: Settings = raw.try_deserialize()?;
        settings.environment = environment;
        settings.validate()?;
        Ok(settings)
    }

    /// Fails with one clear line when a required value is missing or unsafe.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let missing = |key: &str| {
            ConfigError::Invalid(format!(
                "{key} is required (set KILAT__{})",
                key.replace('.', "__").to_ascii_uppercase()
            ))
        };
        let jwt_secret = self.auth.jwt_secret.expose_secret();
        if jwt_secret.trim().is_empty() {
            return Err(missing("auth.jwt_secret"));
        }
        if self.environment == Environment::Production && jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid("auth.jwt_secret must be at least 32 characters in production".into()));
        }
        if self.database.url.trim().is_empty() {
            return Err(missing("database.url"));
        }
        if self.redis.url.trim().is_empty() {
            return Err(missing("redis.url"));
        }
        if self.database.pool_max_size == 0 {
            return Err(ConfigError::Invalid("database.pool_max_size must be at least 1".into()));
        }
        if !(0..=100).contains(&self.marketplace.platform_fee_percent) {
            return Err(ConfigError::Invalid("marketplace.platform_fee_percent must be within 0..=100".into()));
        }
        let d = &self.dispatch;
        if !(d.radius_start_km > 0.0 && d.radius_max_km >= d.radius_start_km) {
            return Err(ConfigError::Invalid(
                "dispatch radii must satisfy 0 < radius_start_km <= radius_max_km".into(),
            ));
        }
        if d.lease_secs == 0 || d.offer_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "dispatch.lease_secs and dispatch.offer_timeout_ms must be positive".into(),
            ));
        }
        let p = &self.payments;
        match p.provider {
            PaymentProvider::Simulated if self.environment == Environment::Production => {
                return Err(ConfigError::Invalid(
                    "payments.provider = \"simulated\" is refused in production (set KILAT__PAYMENTS__PROVIDER=stripe)"
                        .into(),
                ));
            }
            PaymentProvider::Simulated => {}
            PaymentProvider::Stripe => {
                if p.stripe_secret_key.expose_secret().trim().is_empty() {
                    return Err(missing("payments.stripe_secret_key"));
                }
                if p.webhook_secret.expose_secret().trim().is_empty() {
                    return Err(missing("payments.webhook_secret"));
                }
            }
        }
        if p.request_attempts == 0 || p.saga_attempts < 1 || p.saga_lease_secs == 0 {
            return Err(ConfigError::Invalid(
                "payments.request_attempts, saga_attempts and saga_lease_secs must be at least 1".into(),
            ));
        }
        if p.auto_confirm_hours.is_nan() || p.auto_confirm_hours < 0.0 {
            return Err(ConfigError::Invalid("payments.auto_confirm_hours must be 0 (off) or positive".into()));
        }
        let o = &self.payouts;
        if o.fee_cents < 0 || o.attempts < 1 || o.lease_secs == 0 {
            return Err(ConfigError::Invalid(
                "payouts.fee_cents must be 0 or more; payouts.attempts and lease_secs at least 1".into(),
            ));
        }
        if self.rate_limit.window_secs == 0 {
            return Err(ConfigError::Invalid("rate_limit.window_secs must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn one_redis_url_is_one_redis_and_several_name_a_cluster() {
        let mut redis = RedisSettings {
            url: "redis://127.0.0.1:6379/0".into(),
            cluster: false,
            key_prefix: "k:".into(),
            command_timeout_ms: 1000,
        };
        assert_eq!(redis.cluster_seeds(), None);
        redis.cluster = true;
        assert_eq!(redis.cluster_seeds(), Some(vec!["redis://127.0.0.1:6379/0".to_owned()]));
        redis.cluster = false;
        redis.url = "redis://10.0.0.1:7000, redis://10.0.0.2:7000,".into();
        assert_eq!(
            redis.cluster_seeds(),
            Some(vec!["redis://10.0.0.1:7000".to_owned(), "redis://10.0.0.2:7000".to_owned()])
        );
    }

    #[test]
    fn test_environment_loads_with_its_secret() {
        let settings = Settings::load_from(&config_dir(), Environment::Test).unwrap();
        assert_eq!(settings.server.port, 0);
        assert_eq!(settings.rate_limit.auth_per_minute, 100);
        assert!(!settings.auth.jwt_secret.expose_secret().is_empty());
    }

    #[test]
    fn production_without_secret_is_refused_with_the_env_name() {
        // production.toml carries no secret; unless the environment provides one, loading fails.
        if std::env::var("KILAT__AUTH__JWT_SECRET").is_ok() {
            return;
        }
        let err = Settings::load_from(&config_dir(), Environment::Production).unwrap_err();
        assert!(err.to_string().contains("KILAT__AUTH__JWT_SECRET"), "{err}");
    }

    #[test]
    fn production_refuses_simulated_payments() {
        let mut settings = Settings::load_from(&config_dir(), Environment::Test).unwrap();
        settings.environment = Environment::Production;
        settings.auth.jwt_secret = "x".repeat(40).into();
        settings.payments.provider = PaymentProvider::Simulated;
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("refused in production"), "{err}");
        settings.payments.provider = PaymentProvider::Stripe;
        settings.payments.stripe_secret_key = String::new().into();
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("KILAT__PAYMENTS__STRIPE_SECRET_KEY"), "{err}");
    }

    /// A config directory of its own: the real base.toml, and `extra` as
    /// the environment's file (with a secret, so only `extra` can fail).
    fn config_with(extra: &str) -> Result<Settings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("kilat-config-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(config_dir().join("base.toml"), dir.join("base.toml")).unwrap();
        let secret = "[auth]\njwt_secret = \"a-test-secret-a-test-secret-a-test\"\n\
                      [payments]\nprovider = \"simulated\"\n";
        std::fs::write(dir.join("test.toml"), format!("{secret}{extra}\n")).unwrap();
        let loaded = Settings::load_from(&dir, Environment::Test);
        let _ = std::fs::remove_dir_all(&dir);
        loaded
    }

    #[test]
    fn every_shipped_config_file_has_only_known_keys() {
        Settings::load_from(&config_dir(), Environment::Local).unwrap();
        Settings::load_from(&config_dir(), Environment::Test).unwrap();
        // Production needs its secrets from the environment; anything else it says is not about keys.
        if let Err(err) = Settings::load_from(&config_dir(), Environment::Production) {
            assert!(!err.to_string().contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_at_start() {
        let err = config_with("[realtime]\nws_max_socket_per_user = 3").unwrap_err().to_string();
        assert!(err.contains("unknown field") && err.contains("ws_max_socket_per_user"), "{err}");
        let err = config_with("[dispach]\nenabled = true").unwrap_err().to_string();
        assert!(err.contains("dispach"), "{err}");
    }

    #[test]
    fn choices_are_typed_and_a_wrong_one_is_named() {
        let s = config_with("[dispatch]\ntrigger = \"escrow_held\"\n[marketplace]\nquality_policy = \"five_star\"")
            .unwrap();
        assert_eq!(s.dispatch.trigger, DispatchTrigger::EscrowHeld);
        assert_eq!(s.marketplace.quality_policy, QualityPolicyName::FiveStar);
        assert_eq!(s.log.format, LogFormat::Json);
        let err = config_with("[dispatch]\ntrigger = \"paid\"").unwrap_err().to_string();
        assert!(err.contains("paid") && err.contains("dispatch.trigger"), "{err}");
        let err = config_with("[log]\nformat = \"xml\"").unwrap_err().to_string();
        assert!(err.contains("xml"), "{err}");
    }

    #[test]
    fn environment_names_parse() {
        assert_eq!(Environment::parse("Production").unwrap(), Environment::Production);
        assert!(Environment::parse("staging").is_err());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let settings = Settings::load_from(&config_dir(), Environment::Test).unwrap();
        assert!(!format!("{settings:?}").contains(settings.auth.jwt_secret.expose_secret()));
        let mut payments = settings.payments.clone();
        payments.stripe_secret_key = "sk_test_very_secret".into();
        assert!(!format!("{payments:?}").contains("sk_test_very_secret"));
    }
}
