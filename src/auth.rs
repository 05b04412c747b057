//! Credentials: JWT access and refresh tokens (docs/API.md#auth-and-roles), argon2id
//! password hashes, and the random tokens we store only as SHA-256 hashes.
//! Used by the HTTP extractor and, later, by WebSocket upgrades.

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::domain::identity::Role;
use crate::error::{AppError, BoxError};

pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

/// The claims of both token kinds. `tv` and `sid` are ours: the user's
/// token version when the access token was issued (a ban, "sign out
/// everywhere" or a password reset moves it, and older access tokens stop
/// working), and the session (sign-in) it belongs to (a logout ends that
/// session only). Tokens from before sessions existed carry no `sid`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub jti: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub token_type: String,
    #[serde(default)]
    pub tv: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// A freshly minted refresh token with what the store keeps of it.
pub struct MintedRefresh {
    pub token: String,
    pub id: Uuid,
    pub hash: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl TokenKeys {
    pub fn new(settings: &AuthSettings) -> Self {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(settings.jwt_secret.expose_secret().as_bytes()),
            decoding: DecodingKey::from_secret(settings.jwt_secret.expose_secret().as_bytes()),
            validation,
            issuer: settings.issuer.clone(),
            access_ttl: Duration::seconds(settings.access_ttl_secs),
            refresh_ttl: Duration::seconds(settings.refresh_ttl_secs),
        }
    }

    fn encode(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), claims, &self.encoding)
            .map_err(AppError::internal)
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        email: &str,
        role: Role,
        token_version: i32,
        session_id: Uuid,
    ) -> Result<String, AppError> {
        let now = Utc::now();
        self.encode(&Claims {
            jti: Uuid::new_v4().to_string(),
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            iss: self.issuer.clone(),
            user_id: user_id.to_string(),
            email: email.to_owned(),
            role: role.as_str().to_owned(),
            token_type: ACCESS.to_owned(),
            tv: token_version,
            sid: Some(session_id.to_string()),
        })
    }

    pub fn issue_refresh(&self, user_id: Uuid) -> Result<MintedRefresh, AppError> {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let expires_at = now + self.refresh_ttl;
        let token = self.encode(&Claims {
            jti: id.to_string(),
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: self.issuer.clone(),
            user_id: user_id.to_string(),
            email: String::new(),
            role: String::new(),
            token_type: REFRESH.to_owned(),
            tv: 0,
            sid: None,
        })?;
        Ok(MintedRefresh { hash: sha256_hex(&token), token, id, expires_at })
    }

    /// Signature, issuer and expiry checked; the kind is the caller's to check.
    pub fn decode(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

/// Hex SHA-256, how refresh and reset tokens are stored.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `bytes` random bytes, hex-encoded (a reset token is 32 bytes → 64 chars).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// argon2id with the configured cost. Hashing is CPU-bound: call it from a
/// blocking thread (`web::block`), never on the event loop.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// Verified against when the email is unknown, so a miss costs the same
    /// time as a hit and does not reveal which emails exist.
    decoy: String,
}

impl Passwords {
    pub fn new(settings: &AuthSettings) -> Result<Self, BoxError> {
        let params = Params::new(settings.argon2_memory_kib, settings.argon2_iterations, 1, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let mut passwords = Self { params, decoy: String::new() };
        passwords.decoy = passwords.hash(&random_hex(16))?;
        Ok(passwords)
    }

    fn hasher(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=1$<salt>$<hash>`), computed
    /// in this thread's reused argon2 memory.
    pub fn hash(&self, password: &str) -> Result<String, BoxError> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let mut out = [0u8; 32];
        with_blocks(self.params.block_count(), |blocks| {
            self.hasher().hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        })
        .map_err(|e| e.to_string())?;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
            b64(&salt),
            b64(&out)
        ))
    }

    /// False for a wrong password or an unreadable stored hash. The stored
    /// hash's own parameters are used (hashes made under an older cost
    /// still verify), in this thread's reused argon2 memory.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (stored, real) = match stored {
            Some(stored) => (stored, true),
            None => (self.decoy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm.as_str()), Params::try_from(&parsed))
        else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params.clone());
        let computed = with_blocks(params.block_count(), |blocks| {
            argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
        });
        // `Output` compares in constant time.
        let matches = computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected);
        matches && real
    }
}

thread_local! {
    /// argon2's working memory, kept by each hashing thread: allocated once
    /// at the largest cost seen, reused by every hash after it.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_blocks<T>(count: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut blocks) => {
            if blocks.len() < count {
                blocks.resize(count, Block::default());
            }
            work(&mut blocks[..count])
        }
        // (re-entered on this thread: a buffer of its own)
        Err(_) => work(&mut vec![Block::default(); count]),
    })
}

/// Password hashing off the event loop, bounded: `threads` dedicated
/// threads hash one password at a time each, `queue` more requests may
/// wait, and past that the caller is told to come back ([`HashPool::run`]
/// returns `None`). argon2id holds `argon2_memory_kib` per hash, and the
/// allocator keeps what a thread used: on a fixed set of threads that
/// memory is reused, so a login flood costs `threads` buffers, not one per
/// concurrent request (unbounded, 64 concurrent logins once took a node
/// past 10 GB).
#[derive(Clone)]
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Box<dyn FnOnce() + Send>>,
}

impl HashPool {
    pub fn new(threads: usize, queue: usize) -> Result<Self, BoxError> {
        let (jobs, incoming) = std::sync::mpsc::sync_channel::<Box<dyn FnOnce() + Send>>(queue);
        let incoming = std::sync::Arc::new(std::sync::Mutex::new(incoming));
        for n in 0..threads.max(1) {
            let incoming = incoming.clone();
            std::thread::Builder::new().name(format!("kilat-hash-{n}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match incoming.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread. `None` when every thread is busy
    /// and the queue is full (or the pool is gone): answer 503.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs.try_send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings {
            jwt_secret: "unit-test-secret-unit-test-secret".into(),
            issuer: "kilat-pet-runner".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 604800,
            reset_ttl_secs: 3600,
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            refresh_reuse_grace_secs: 30,
            password_hash_concurrency: 1,
            password_hash_queue: 4,
        }
    }

    #[test]
    fn access_token_carries_the_contract_claims() {
        let keys = TokenKeys::new(&settings());
        let id = Uuid::new_v4();
        let sid = Uuid::new_v4();
        let token = keys.issue_access(id, "a@b.my", Role::Runner, 3, sid).unwrap();
        let claims = keys.decode(&token).unwrap();
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.user_id, id.to_string());
        assert_eq!(claims.role, "runner");
        assert_eq!(claims.token_type, "access");
        assert_eq!(claims.iss, "kilat-pet-runner");
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.tv, 3);
        assert_eq!(claims.sid, Some(sid.to_string()));
    }

    #[test]
    fn refresh_token_has_empty_email_and_role() {
        let keys = TokenKeys::new(&settings());
        let minted = keys.issue_refresh(Uuid::new_v4()).unwrap();
        let claims = keys.decode(&minted.token).unwrap();
        assert_eq!(claims.token_type, "refresh");
        assert_eq!((claims.email.as_str(), claims.role.as_str()), ("", ""));
        assert_eq!(minted.hash, sha256_hex(&minted.token));
        assert_eq!(claims.jti, minted.id.to_string());
    }

    #[test]
    fn tokens_signed_with_another_secret_are_rejected() {
        let keys = TokenKeys::new(&settings());
        let mut other = settings();
        other.jwt_secret = "another-secret-another-secret-xx".into();
        let token = TokenKeys::new(&other).issue_access(Uuid::new_v4(), "", Role::Owner, 0, Uuid::new_v4()).unwrap();
        assert!(keys.decode(&token).is_none());
        assert!(keys.decode("not-a-jwt").is_none());
    }

    #[test]
    fn passwords_verify_only_the_right_one() {
        let passwords = Passwords::new(&settings()).unwrap();
        let hash = passwords.hash("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(passwords.verify("correct horse", Some(&hash)));
        assert!(!passwords.verify("wrong horse", Some(&hash)));
        assert!(!passwords.verify("correct horse", None));
        assert!(!passwords.verify("correct horse", Some("garbage")));
    }

    #[actix_web::test]
    async fn the_hash_pool_refuses_work_past_its_queue() {
        let pool = HashPool::new(1, 1).unwrap();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        // One job occupies the only thread...
        let busy = pool.clone();
        let first = tokio::spawn(async move {
            busy.run(move || {
                let _ = started_tx.send(());
                let _ = hold.recv();
                1
            })
            .await
        });
        started.await.unwrap();
        // ...one waits in the queue, and the next is refused at once.
        let queued = pool.clone();
        let second = tokio::spawn(async move { queued.run(|| 2).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(pool.run(|| 3).await, None);
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Some(1));
        assert_eq!(second.await.unwrap(), Some(2));
        assert_eq!(pool.run(|| 4).await, Some(4));
    }

    #[test]
    fn our_hashes_and_the_librarys_verify_each_other() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let passwords = Passwords::new(&settings()).unwrap();
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, passwords.params.clone());
        let ours = passwords.hash("correct horse").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        assert!(library.verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap()).is_ok());
        assert!(library.verify_password(b"wrong horse", &PasswordHash::new(&ours).unwrap()).is_err());
        // Hashes stored before (made by the library), at another cost too.
        let theirs = library.hash_password(b"battery staple").unwrap().to_string();
        assert!(passwords.verify("battery staple", Some(&theirs)));
        assert!(!passwords.verify("battery stapler", Some(&theirs)));
        let older = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(128, 2, 1, None).unwrap());
        let older = older.hash_password(b"old cost").unwrap().to_string();
        assert!(passwords.verify("old cost", Some(&older)));
        assert!(!passwords.verify("new cost", Some(&older)));
    }

    #[test]
    fn reset_tokens_are_64_hex_chars() {
        let token = random_hex(32);
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
