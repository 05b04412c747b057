//! Payments (docs/API.md#payments), the provider webhook, and the admin
//! payment list, stats and dead letters (docs/API.md#admin). Handlers extract and
//! map; the escrow service (`payments::escrow`) does the work.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Paginated, Pagination, RawError};
use super::extract::{AuthUser, PageQuery, optional_text, parse_id, required_text};
use crate::db::bookings as booking_db;
use crate::db::payments::{self as payment_db, DeadLetter, Payment};
use crate::domain::ValidationError;
use crate::domain::booking::Actor;
use crate::domain::identity::{Email, Role};
use crate::domain::payment::EscrowStatus;
use crate::domain::time::{self, rfc3339_opt};
use crate::error::AppError;
use crate::payments::escrow::InitiateRequest;
use crate::services::payments as service;

/// PaymentDTO (docs/API.md#payments): every key always present.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub booking_number: String,
    pub owner_id: Uuid,
    /// the runner paid out; null until released
    pub runner_id: Option<Uuid>,
    /// pending | held | released | refunded | failed
    pub escrow_status: String,
    pub amount_cents: i64,
    pub platform_fee_cents: i64,
    pub runner_payout_cents: i64,
    pub currency: String,
    /// "" unless the provider said
    pub payment_method: String,
    /// the provider's PaymentIntent id; "" before one exists
    pub stripe_payment_id: String,
    /// why the attempt failed; "" unless failed
    pub failure_reason: String,
    /// "" until refunded
    pub refund_reason: String,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub escrow_held_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub escrow_released_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub refunded_at: Option<DateTime<Utc>>,
    pub version: i32,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
    /// ours: promo and subscription discounts (the platform pays them);
    /// amount + discount + credit = the booking's price
    pub discount_cents: i64,
    /// ours: the owner's credit spent (referral rewards)
    pub credit_cents: i64,
    /// ours: the promo applied, "" if none
    pub promo_code: String,
}

impl From<Payment> for PaymentDto {
    fn from(p: Payment) -> Self {
        Self {
            id: p.id,
            booking_id: p.booking_id,
            booking_number: p.booking_number,
            owner_id: p.owner_id,
            runner_id: p.runner_id,
            escrow_status: p.escrow_status.as_str().to_owned(),
            amount_cents: p.amount_cents,
            platform_fee_cents: p.platform_fee_cents,
            runner_payout_cents: p.runner_payout_cents,
            currency: p.currency,
            payment_method: p.payment_method,
            stripe_payment_id: p.stripe_payment_id,
            failure_reason: p.failure_reason,
            refund_reason: p.refund_reason,
            escrow_held_at: p.escrow_held_at,
            escrow_released_at: p.escrow_released_at,
            refunded_at: p.refunded_at,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
            discount_cents: p.discount_cents,
            credit_cents: p.credit_cents,
            promo_code: p.promo_code,
        }
    }
}

/// The initiate answer: the PaymentDTO plus what the app's Stripe SDK needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct InitiatedDto {
    #[serde(flatten)]
    pub payment: PaymentDto,
    /// same as stripe_payment_id (the iOS owner reads either)
    pub payment_intent_id: String,
    /// for confirming the PaymentIntent in the app while it is pending; null once held
    pub client_secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InitiatePayment {
    pub booking_id: Option<String>,
    /// must equal the booking's estimated_price_cents
    pub amount_cents: Option<i64>,
    /// the booking's currency ("MYR")
    pub currency: Option<String>,
    pub customer_email: Option<String>,
    /// optional provider payment-method id (`pm_…`): confirms the hold at once
    pub payment_method: Option<String>,
    /// optional promo code (any case): the hold is the price less its discount
    pub promo_code: Option<String>,
}

fn parse_initiate(body: InitiatePayment) -> Result<InitiateRequest, ValidationError> {
    let booking_id = required_text(body.booking_id, "booking_id", 64)?;
    let booking_id =
        Uuid::parse_str(&booking_id).map_err(|_| ValidationError::new("booking_id must be a valid UUID"))?;
    let amount_cents = body.amount_cents.ok_or_else(|| ValidationError::new("amount_cents is required"))?;
    if amount_cents <= 0 {
        return Err(ValidationError::new("amount_cents must be greater than 0"));
    }
    let currency = required_text(body.currency, "currency", 3)?;
    let email = required_text(body.customer_email, "customer_email", 254)?;
    let customer_email =
        Email::parse(&email).map_err(|_| ValidationError::new("customer_email must be a valid email"))?;
    let payment_method = optional_text(body.payment_method, "payment_method", 255)?;
    if let Some(pm) = &payment_method
        && !pm.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ValidationError::new("payment_method must be a provider payment method id (pm_…)"));
    }
    let promo_code = optional_text(body.promo_code, "promo_code", 64)?
        .map(|c| crate::domain::promo::normalise_code(&c))
        .filter(|c| !c.is_empty());
    Ok(InitiateRequest {
        promo_code,
        booking_id,
        amount_cents,
        currency: currency.to_ascii_uppercase(),
        customer_email: customer_email.as_str().to_owned(),
        payment_method,
    })
}

fn actor(user: &AuthUser) -> Actor {
    Actor { id: user.id, role: user.role }
}

#[utoipa::path(post, path = "/api/v1/payments/initiate", tag = "payments", security(("bearer" = [])), request_body = InitiatePayment,
    responses((status = 201, description = "held (or pending with client_secret while the app confirms)", body = Envelope<InitiatedDto>),
              (status = 400, description = "validation; amount_cents does not match the booking price", body = ErrorBody),
              (status = 402, description = "card declined: the attempt is failed and may be retried", body = ErrorBody),
              (status = 403, description = "booking does not belong to this user", body = ErrorBody),
              (status = 404, description = "Booking not found", body = ErrorBody),
              (status = 409, description = "payment already exists for this booking", body = ErrorBody),
              (status = 422, description = "booking is completed or cancelled", body = ErrorBody),
              (status = 502, description = "payment provider unavailable after retries", body = ErrorBody)))]
pub async fn initiate(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<InitiatePayment>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let request = parse_initiate(body.into_inner())?;
    let done = service::initiate(&state.services, actor(&user), request).await?;
    let held = done.payment.status() == EscrowStatus::Held;
    Ok(envelope::created(InitiatedDto {
        payment_intent_id: done.payment.stripe_payment_id.clone(),
        client_secret: if held { None } else { done.client_secret },
        payment: done.payment.into(),
    }))
}

#[utoipa::path(get, path = "/api/v1/payments/{id}", tag = "payments", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Envelope<PaymentDto>), (status = 403, description = "not a participant", body = ErrorBody),
              (status = 404, description = "Payment not found", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id, "payment")?;
    let mut conn = state.pool.get().await?;
    let payment = payment_db::find(&mut conn, id).await?.ok_or_else(|| AppError::not_found("payment", id))?;
    payment_db::readable(&mut conn, &payment, actor(&user)).await?;
    Ok(envelope::ok(PaymentDto::from(payment)))
}

#[utoipa::path(get, path = "/api/v1/payments/booking/{bookingId}", tag = "payments", security(("bearer" = [])),
    params(("bookingId" = String, Path)),
    responses((status = 200, description = "the booking's latest payment attempt", body = Envelope<PaymentDto>),
              (status = 403, description = "not a participant", body = ErrorBody),
              (status = 404, description = "Payment not found", body = ErrorBody)))]
pub async fn by_booking(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let raw = id.into_inner();
    let booking_id = parse_id(&raw, "booking")?;
    let mut conn = state.pool.get().await?;
    let not_found = || AppError::not_found("payment", booking_id);
    let booking = booking_db::find(&mut conn, booking_id).await?.ok_or_else(not_found)?;
    if !booking.parties().is_participant(actor(&user)) {
        return Err(AppError::Forbidden("not your booking".into()));
    }
    let payment = payment_db::latest_for_booking(&mut conn, booking_id).await?.ok_or_else(not_found)?;
    Ok(envelope::ok(PaymentDto::from(payment)))
}

#[utoipa::path(get, path = "/api/v1/payments", tag = "payments", security(("bearer" = [])),
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "payments of bookings the runner carried, newest first", body = Paginated<PaymentDto>),
              (status = 403, body = RawError)))]
pub async fn runner_list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let (page, limit) = query.admin();
    let mut conn = state.pool.get().await?;
    let (rows, total) = payment_db::list_for_runner(&mut conn, user.id, page, limit).await?;
    Ok(envelope::paginated(rows.into_iter().map(PaymentDto::from).collect(), Pagination::new(total, page, limit)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefundRequest {
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/payments/{id}/refund", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RefundRequest,
    responses((status = 200, description = "refunded (the hold is released at the provider)", body = Envelope<PaymentDto>),
              (status = 400, description = "reason is required", body = ErrorBody), (status = 403, body = RawError),
              (status = 404, body = ErrorBody), (status = 409, description = "another operation on the payment is in progress", body = ErrorBody),
              (status = 422, description = "only a held payment can be refunded", body = ErrorBody),
              (status = 502, description = "provider failed; the refund stays queued and is retried", body = ErrorBody)))]
pub async fn refund(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<RefundRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = parse_id(&id, "payment")?;
    let reason = required_text(body.into_inner().reason, "reason", 500)?;
    let payment = service::refund_by_admin(&state.services, id, &reason).await?;
    Ok(envelope::ok(PaymentDto::from(payment)))
}

#[utoipa::path(post, path = "/api/v1/payments/webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256 of \"t.body\">")),
    request_body(content = Object, description = "a Stripe event, verbatim"),
    responses((status = 200, description = "processed, duplicate (a replay: nothing done twice) or ignored"),
              (status = 400, description = "missing or invalid signature, or a timestamp outside the tolerance", body = ErrorBody)))]
pub async fn stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::BadRequest("Stripe-Signature header is required".into()))?;
    let payload = std::str::from_utf8(&body).map_err(|_| AppError::BadRequest("body must be UTF-8 JSON".into()))?;
    let outcome = service::webhook(&state.services, payload, signature).await?;
    Ok(envelope::ok(json!({"received": true, "outcome": outcome.as_str()})))
}

#[utoipa::path(get, path = "/api/v1/admin/payments", tag = "admin", security(("bearer" = [])),
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "every payment attempt, newest first", body = Paginated<PaymentDto>), (status = 403, body = RawError)))]
pub async fn admin_list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (page, limit) = query.admin();
    let mut conn = state.pool.get().await?;
    let (rows, total) = payment_db::list_all(&mut conn, page, limit).await?;
    Ok(envelope::paginated(rows.into_iter().map(PaymentDto::from).collect(), Pagination::new(total, page, limit)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStats {
    /// Σ amount_cents of released payments
    pub total_revenue_cents: i64,
    /// Σ platform_fee_cents of released payments
    pub platform_fees_cents: i64,
    pub total_payments: i64,
    /// always has all five statuses
    pub by_status: BTreeMap<String, i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/stats/payments", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Envelope<PaymentStats>), (status = 403, body = RawError)))]
pub async fn admin_stats(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let rows = payment_db::totals_by_status(&mut conn).await?;
    let mut by_status: BTreeMap<String, i64> = EscrowStatus::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    let (mut total_payments, mut total_revenue_cents, mut platform_fees_cents) = (0, 0, 0);
    for (status, n, cents, fees) in rows {
        total_payments += n;
        if status == EscrowStatus::Released {
            total_revenue_cents = cents;
            platform_fees_cents = fees;
        }
        by_status.insert(status.as_str().to_owned(), n);
    }
    Ok(envelope::ok(PaymentStats { total_revenue_cents, platform_fees_cents, total_payments, by_status }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterDto {
    pub id: i64,
    pub payment_id: Uuid,
    /// capture | void
    pub step: String,
    pub reason: String,
    pub attempts: i32,
    pub last_error: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<DeadLetter> for DeadLetterDto {
    fn from(d: DeadLetter) -> Self {
        Self {
            id: d.id,
            payment_id: d.payment_id,
            step: d.step.as_str().to_owned(),
            reason: d.reason,
            attempts: d.attempts,
            last_error: d.last_error,
            created_at: d.created_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/payments/dead-letters", tag = "admin", security(("bearer" = [])),
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "saga steps that kept failing, not yet retried, newest first", body = Paginated<DeadLetterDto>),
              (status = 403, body = RawError)))]
pub async fn dead_letters(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (page, limit) = query.admin();
    let mut conn = state.pool.get().await?;
    let (rows, total) = payment_db::dead_letters(&mut conn, page, limit).await?;
    Ok(envelope::paginated(rows.into_iter().map(DeadLetterDto::from).collect(), Pagination::new(total, page, limit)))
}

#[utoipa::path(post, path = "/api/v1/admin/payments/dead-letters/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "the step ran again and succeeded", body = Envelope<PaymentDto>),
              (status = 403, body = RawError), (status = 404, body = ErrorBody),
              (status = 409, description = "already retried, or another operation is in progress", body = ErrorBody),
              (status = 502, description = "the provider failed again; the step is retried by the saga", body = ErrorBody)))]
pub async fn retry_dead_letter(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id: i64 = id.trim().parse().map_err(|_| AppError::BadRequest("invalid dead letter ID".into()))?;
    let payment = service::retry_dead_letter(&state.services, id).await?;
    Ok(envelope::ok(PaymentDto::from(payment)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(amount: Option<i64>, email: &str) -> InitiatePayment {
        InitiatePayment {
            booking_id: Some(Uuid::nil().to_string()),
            amount_cents: amount,
            currency: Some("myr".into()),
            customer_email: Some(email.into()),
            payment_method: None,
            promo_code: None,
        }
    }

    #[test]
    fn initiate_validation() {
        assert_eq!(parse_initiate(body(None, "a@b.my")).err().unwrap().0, "amount_cents is required");
        assert_eq!(parse_initiate(body(Some(0), "a@b.my")).err().unwrap().0, "amount_cents must be greater than 0");
        assert_eq!(parse_initiate(body(Some(10), "nope")).err().unwrap().0, "customer_email must be a valid email");
        let ok = parse_initiate(body(Some(10), "A@B.my")).unwrap();
        assert_eq!(ok.currency, "MYR");
        assert_eq!(ok.customer_email, "a@b.my");
        let mut bad_pm = body(Some(10), "a@b.my");
        bad_pm.payment_method = Some("pm_1&x=1".into());
        assert!(parse_initiate(bad_pm).is_err());
    }
}
