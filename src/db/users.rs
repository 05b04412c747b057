//! The `users` aggregate.

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::Conn;
use super::schema::{auth_sessions, refresh_tokens, runners, users};
use crate::domain::identity::{Email, Role};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub phone: String,
    pub password_hash: String,
    pub full_name: String,
    pub role: Role,
    pub is_verified: bool,
    pub avatar_url: String,
    pub is_banned: bool,
    pub token_version: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The stored role; the CHECK constraint keeps it one of the four.
    pub fn role(&self) -> Role {
        self.role
    }
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub phone: &'a str,
    pub password_hash: &'a str,
    pub full_name: &'a str,
    pub role: Role,
}

/// What the auth extractor needs on every request: one primary-key read
/// (with the session's own row when the token names one).
#[derive(Debug, Clone, Copy, Queryable)]
pub struct AuthState {
    pub is_banned: bool,
    pub token_version: i32,
    /// The token's session is live (true for tokens that name none).
    pub session_live: bool,
}

impl AuthState {
    /// Not banned, no "sign out everywhere" since the token (version
    /// `tv`) was issued, and its session not ended.
    pub fn in_good_standing(&self, tv: i32) -> bool {
        !self.is_banned && self.token_version == tv && self.session_live
    }
}

/// Inserts a user; a taken email (any case) is a 409 naming it.
pub async fn insert(conn: &mut Conn, new: NewUser<'_>) -> Result<User, DbError> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(super::new_id()),
            users::email.eq(new.email.as_str()),
            users::phone.eq(new.phone),
            users::password_hash.eq(new.password_hash),
            users::full_name.eq(new.full_name),
            users::role.eq(new.role.as_str()),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|err| match err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                DbError::Conflict(format!("User with email '{}' already exists", new.email.as_str()))
            }
            other => other.into(),
        })
}

/// A new user and, in the same transaction, who referred them.
pub async fn insert_referred(conn: &mut Conn, new: NewUser<'_>, referrer: Option<Uuid>) -> Result<User, DbError> {
    use diesel_async::AsyncConnection;
    conn.transaction::<User, DbError, _>(async |conn| {
        let user = insert(conn, new).await?;
        if let Some(referrer) = referrer {
            super::referrals::record(conn, referrer, user.id).await?;
        }
        Ok(user)
    })
    .await
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<Option<User>, DbError> {
    Ok(users::table.find(id).select(User::as_select()).first(conn).await.optional()?)
}

pub async fn find_by_email(conn: &mut Conn, email: &Email) -> Result<Option<User>, DbError> {
    Ok(users::table.filter(users::email.eq(email.as_str())).select(User::as_select()).first(conn).await.optional()?)
}

pub async fn auth_state(conn: &mut Conn, id: Uuid, session_id: Option<Uuid>) -> Result<Option<AuthState>, DbError> {
    let Some(session_id) = session_id else {
        let found: Option<(bool, i32)> =
            users::table.find(id).select((users::is_banned, users::token_version)).first(conn).await.optional()?;
        return Ok(found.map(|(is_banned, token_version)| AuthState { is_banned, token_version, session_live: true }));
    };
    let live_session = auth_sessions::table
        .find(session_id)
        .filter(auth_sessions::user_id.eq(id))
        .filter(auth_sessions::ended_at.is_null());
    Ok(users::table
        .find(id)
        .select((users::is_banned, users::token_version, diesel::dsl::exists(live_session)))
        .first::<AuthState>(conn)
        .await
        .optional()?)
}

/// Fields a user may change on their own profile; `None` = unchanged.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfileChanges {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
}

pub async fn update_profile(conn: &mut Conn, id: Uuid, changes: ProfileChanges) -> Result<Option<User>, DbError> {
    if changes.full_name.is_none() && changes.phone.is_none() && changes.avatar_url.is_none() {
        return find(conn, id).await;
    }
    Ok(diesel::update(users::table.find(id))
        .set((changes, users::version.eq(users::version + 1), users::updated_at.eq(Utc::now())))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// Bans a user in one transaction: banned flag, `is_verified=false`, every
/// session ended, token version bumped so live access tokens die, and a
/// runner profile set offline.
/// Returns false when there is no such user.
pub async fn ban(conn: &mut Conn, id: Uuid) -> Result<bool, DbError> {
    conn.transaction::<bool, DbError, _>(async |conn| {
        let updated = diesel::update(users::table.find(id))
            .set((
                users::is_banned.eq(true),
                users::is_verified.eq(false),
                users::token_version.eq(users::token_version + 1),
                users::version.eq(users::version + 1),
                users::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
        if updated == 0 {
            return Ok(false);
        }
        revoke_all_sessions(conn, id).await?;
        // A banned runner is offline: no more offers, no pool.
        diesel::update(runners::table.filter(runners::user_id.eq(id)))
            .set((
                runners::session_status.eq(crate::domain::eligibility::Shift::Inactive),
                runners::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
        Ok(true)
    })
    .await
}

/// Ends every session of a user: refresh tokens revoked, access tokens dead.
pub async fn end_all_sessions(conn: &mut Conn, id: Uuid) -> Result<(), DbError> {
    conn.transaction::<(), DbError, _>(async |conn| {
        diesel::update(users::table.find(id))
            .set(users::token_version.eq(users::token_version + 1))
            .execute(conn)
            .await?;
        revoke_all_sessions(conn, id).await?;
        Ok(())
    })
    .await
}

/// Newest first.
/// Users newest first; with `search`, those whose email or name contains it
/// (case-insensitive).
pub async fn list(conn: &mut Conn, search: Option<&str>, page: i64, limit: i64) -> Result<(Vec<User>, i64), DbError> {
    let pattern = search.map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let filtered = || {
        let mut q = users::table.into_boxed();
        if let Some(p) = &pattern {
            q = q.filter(users::email.ilike(p.clone()).or(users::full_name.ilike(p.clone())));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .order((users::created_at.desc(), users::id.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(User::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

pub async fn count_by_role(conn: &mut Conn) -> Result<Vec<(Role, i64)>, DbError> {
    Ok(users::table.group_by(users::role).select((users::role, diesel::dsl::count_star())).load(conn).await?)
}

/// Used by the refresh flow while it holds the token row lock.
pub(super) async fn find_in_tx(conn: &mut Conn, id: Uuid) -> Result<Option<User>, DieselError> {
    users::table.find(id).select(User::as_select()).first(conn).await.optional()
}

/// Used by password reset inside its transaction.
pub(super) async fn set_password(conn: &mut Conn, id: Uuid, password_hash: &str) -> Result<(), DieselError> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::token_version.eq(users::token_version + 1),
            users::version.eq(users::version + 1),
            users::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    revoke_all_sessions(conn, id).await?;
    Ok(())
}

/// Ends every session of the user: refresh tokens revoked, sessions marked
/// ended (their access tokens stop at the next check).
async fn revoke_all_sessions(conn: &mut Conn, user_id: Uuid) -> Result<usize, diesel::result::Error> {
    let now = Utc::now();
    diesel::update(
        auth_sessions::table.filter(auth_sessions::user_id.eq(user_id)).filter(auth_sessions::ended_at.is_null()),
    )
    .set(auth_sessions::ended_at.eq(now))
    .execute(conn)
    .await?;
    diesel::update(
        refresh_tokens::table.filter(refresh_tokens::user_id.eq(user_id)).filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await
}
