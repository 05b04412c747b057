//! Promos: stored codes, their uses counted under the promo's row lock (so
//! `current_uses` never passes `max_uses`), one live use per user, a use
//! given back when its payment fails or is refunded.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::{promo_uses, promos};
use super::{Conn, DbError};
use crate::domain::Refusal;
use crate::domain::promo::{DiscountType, NewPromo, PromoRefusal, promo_discount};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = promos, check_for_backend(diesel::pg::Pg))]
pub struct Promo {
    pub id: Uuid,
    pub code: String,
    pub discount_type: DiscountType,
    pub discount_value: i64,
    pub min_amount_cents: i64,
    pub max_discount_cents: i64,
    pub max_uses: i32,
    pub current_uses: i32,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl Promo {
    fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from <= now && now < self.valid_until && (self.max_uses == 0 || self.current_uses < self.max_uses)
    }

    pub fn discount_on(&self, amount_cents: i64) -> i64 {
        promo_discount(self.discount_type, self.discount_value, self.max_discount_cents, amount_cents)
    }
}

pub async fn create(conn: &mut Conn, p: &NewPromo, admin: Uuid) -> Result<Promo, DbError> {
    let inserted = diesel::insert_into(promos::table)
        .values((
            promos::id.eq(super::new_id()),
            promos::code.eq(&p.code),
            promos::discount_type.eq(p.discount_type),
            promos::discount_value.eq(p.discount_value),
            promos::min_amount_cents.eq(p.min_amount_cents),
            promos::max_discount_cents.eq(p.max_discount_cents),
            promos::max_uses.eq(p.max_uses),
            promos::valid_from.eq(p.valid_from),
            promos::valid_until.eq(p.valid_until),
            promos::created_by.eq(Some(admin)),
        ))
        .returning(Promo::as_returning())
        .get_result(conn)
        .await;
    match inserted {
        Ok(p) => Ok(p),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(DbError::Conflict(format!("promo code '{}' already exists", p.code)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Promos usable now (in their window, not used up), newest first.
pub async fn active(conn: &mut Conn) -> Result<Vec<Promo>, DbError> {
    let now = Utc::now();
    Ok(promos::table
        .filter(promos::valid_from.le(now).and(promos::valid_until.gt(now)))
        .filter(promos::max_uses.eq(0).or(promos::current_uses.lt(promos::max_uses)))
        .order(promos::created_at.desc())
        .select(Promo::as_select())
        .load(conn)
        .await?)
}

async fn used_by(conn: &mut Conn, promo: Uuid, user: Uuid) -> Result<bool, DbError> {
    let n: i64 = promo_uses::table
        .filter(promo_uses::promo_id.eq(promo))
        .filter(promo_uses::user_id.eq(user))
        .filter(promo_uses::released_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// What `code` would take off `amount_cents` for `user` now, or why not.
pub async fn check(
    conn: &mut Conn,
    code: &str,
    user: Uuid,
    amount_cents: i64,
) -> Result<Result<(Promo, i64), PromoRefusal>, DbError> {
    let promo: Option<Promo> =
        promos::table.filter(promos::code.eq(code)).select(Promo::as_select()).first(conn).await.optional()?;
    judge(conn, promo, user, amount_cents).await
}

async fn judge(
    conn: &mut Conn,
    promo: Option<Promo>,
    user: Uuid,
    amount_cents: i64,
) -> Result<Result<(Promo, i64), PromoRefusal>, DbError> {
    let Some(promo) = promo else {
        return Ok(Err(PromoRefusal::NotFound));
    };
    if !promo.usable_at(Utc::now()) {
        return Ok(Err(PromoRefusal::ExpiredOrUsedUp));
    }
    if used_by(conn, promo.id, user).await? {
        return Ok(Err(PromoRefusal::AlreadyUsed));
    }
    if amount_cents < promo.min_amount_cents {
        return Ok(Err(PromoRefusal::BelowMinimum(promo.min_amount_cents)));
    }
    let discount = promo.discount_on(amount_cents);
    Ok(Ok((promo, discount)))
}

/// Takes one use of `code` for `user` on `amount_cents` (at most `room`
/// off), counting it under the promo's row lock; the caller records the
/// use with [`record_use`] once the payment row exists. A refusal is 400
/// with the validate endpoint's message.
pub async fn take(
    conn: &mut Conn,
    code: &str,
    user: Uuid,
    amount_cents: i64,
    room: i64,
) -> Result<(Uuid, i64), DbError> {
    let promo: Option<Promo> = promos::table
        .filter(promos::code.eq(code))
        .select(Promo::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let (promo, discount) = judge(conn, promo, user, amount_cents)
        .await?
        .map_err(|refusal| DbError::Refused(Refusal::Mismatch(refusal.message())))?;
    let discount = discount.min(room);
    if discount <= 0 {
        // nothing to take off (the charge is already at its minimum): no use spent
        return Err(DbError::Refused(Refusal::Mismatch("promo code gives no discount on this amount".into())));
    }
    diesel::update(promos::table.find(promo.id))
        .set(promos::current_uses.eq(promos::current_uses + 1))
        .execute(conn)
        .await?;
    Ok((promo.id, discount))
}

pub async fn record_use(
    conn: &mut Conn,
    promo: Uuid,
    user: Uuid,
    payment: Uuid,
    discount_cents: i64,
) -> Result<(), DbError> {
    let inserted = diesel::insert_into(promo_uses::table)
        .values((
            promo_uses::id.eq(super::new_id()),
            promo_uses::promo_id.eq(promo),
            promo_uses::user_id.eq(user),
            promo_uses::payment_id.eq(payment),
            promo_uses::discount_cents.eq(discount_cents),
        ))
        .execute(conn)
        .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(DbError::Refused(Refusal::Mismatch(PromoRefusal::AlreadyUsed.message())))
        }
        Err(e) => Err(e.into()),
    }
}

/// The payment failed or was refunded: its promo use (if any) is given back.
pub async fn release_use(conn: &mut Conn, payment: Uuid) -> Result<(), DbError> {
    let released: Option<Uuid> = diesel::update(
        promo_uses::table.filter(promo_uses::payment_id.eq(payment)).filter(promo_uses::released_at.is_null()),
    )
    .set(promo_uses::released_at.eq(Some(Utc::now())))
    .returning(promo_uses::promo_id)
    .get_result(conn)
    .await
    .optional()?;
    if let Some(promo) = released {
        diesel::update(promos::table.find(promo).filter(promos::current_uses.gt(0)))
            .set(promos::current_uses.eq(promos::current_uses - 1))
            .execute(conn)
            .await?;
    }
    Ok(())
}
