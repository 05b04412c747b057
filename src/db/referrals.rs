//! Referrals: a code per user, the referee recorded at sign-up, and the
//! reward paid (once per referee) when their first booking completes, in
//! that booking's transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, Refs};
use super::schema::{referral_codes, referrals};
use super::{Conn, DbError, notifications};
use crate::domain::ledger::referral_reward;
use crate::domain::notifications::ringgit;
use crate::domain::promo::{REFERRAL_REWARD_CENTS, new_referral_code};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = referrals, check_for_backend(diesel::pg::Pg))]
pub struct Referral {
    pub id: Uuid,
    pub referrer_id: Uuid,
    pub referee_id: Uuid,
    pub reward_amount_cents: i64,
    pub referrer_credited: bool,
    pub referee_credited: bool,
    pub created_at: DateTime<Utc>,
}

/// The user's code, made on first use.
pub async fn code_of(conn: &mut Conn, user: Uuid) -> Result<String, DbError> {
    for _ in 0..4 {
        let existing: Option<String> =
            referral_codes::table.find(user).select(referral_codes::code).first(conn).await.optional()?;
        if let Some(code) = existing {
            return Ok(code);
        }
        diesel::insert_into(referral_codes::table)
            .values((referral_codes::user_id.eq(user), referral_codes::code.eq(new_referral_code())))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Err(DbError::corrupt("no referral code after 4 draws"))
}

/// Who owns `code` (upper-cased `REF-…`).
pub async fn owner_of(conn: &mut Conn, code: &str) -> Result<Option<Uuid>, DbError> {
    Ok(referral_codes::table
        .filter(referral_codes::code.eq(code))
        .select(referral_codes::user_id)
        .first(conn)
        .await
        .optional()?)
}

/// Records that `referee` (just signed up) was referred by `referrer`.
pub async fn record(conn: &mut Conn, referrer: Uuid, referee: Uuid) -> Result<(), DbError> {
    if referrer == referee {
        return Err(DbError::Refused(crate::domain::Refusal::Mismatch("you cannot refer yourself".into())));
    }
    diesel::insert_into(referrals::table)
        .values((
            referrals::id.eq(super::new_id()),
            referrals::referrer_id.eq(referrer),
            referrals::referee_id.eq(referee),
            referrals::reward_amount_cents.eq(REFERRAL_REWARD_CENTS),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn of_referrer(conn: &mut Conn, referrer: Uuid) -> Result<Vec<Referral>, DbError> {
    Ok(referrals::table
        .filter(referrals::referrer_id.eq(referrer))
        .order(referrals::created_at.desc())
        .select(Referral::as_select())
        .load(conn)
        .await?)
}

/// In the transaction that completes `booking` of `owner`: if the owner was
/// referred and not yet rewarded, both sides get the reward as credit
/// (once: the referral row is updated only while uncredited).
pub async fn reward_on_completion(conn: &mut Conn, owner: Uuid, booking: Uuid) -> Result<(), DbError> {
    let due: Option<Referral> = diesel::update(
        referrals::table.filter(referrals::referee_id.eq(owner)).filter(referrals::credited_at.is_null()),
    )
    .set((
        referrals::referrer_credited.eq(true),
        referrals::referee_credited.eq(true),
        referrals::booking_id.eq(Some(booking)),
        referrals::credited_at.eq(Some(Utc::now())),
    ))
    .returning(Referral::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    let Some(r) = due else {
        return Ok(());
    };
    let amount = ringgit(r.reward_amount_cents);
    for user in [r.referrer_id, r.referee_id] {
        let refs = Refs { booking_id: Some(booking), ..Refs::default() };
        ledger::post(conn, &referral_reward(user, r.reward_amount_cents), refs).await?;
        let body = format!("{amount} of credit is yours, taken off your next payment");
        let metadata = json!({"referral_id": r.id, "amount_cents": r.reward_amount_cents});
        notifications::create(conn, user, None, "referral.rewarded", "Referral Reward", &body, metadata).await?;
    }
    Ok(())
}
