//! Promos (contract §8.4), subscriptions (§8.5) and referrals (§8.3):
//! docs/API.md#promos.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, RawError};
use super::extract::AuthUser;
use crate::db::promos::Promo;
use crate::db::referrals::Referral;
use crate::db::subscriptions::Subscription;
use crate::domain::booking::Actor;
use crate::domain::identity::Role;
use crate::domain::promo::{NewPromo, PLANS};
use crate::domain::time;
use crate::error::AppError;
use crate::services::money as service;

fn actor(user: &AuthUser) -> Actor {
    Actor { id: user.id, role: user.role }
}

/// PromoDTO.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromoDto {
    pub id: Uuid,
    pub code: String,
    /// percentage | fixed
    pub discount_type: String,
    /// percent (1..100) or sen
    pub discount_value: i64,
    pub min_amount_cents: i64,
    /// 0 = no cap
    pub max_discount_cents: i64,
    /// 0 = unlimited
    pub max_uses: i32,
    pub current_uses: i32,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub valid_from: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub valid_until: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<Promo> for PromoDto {
    fn from(p: Promo) -> Self {
        Self {
            id: p.id,
            code: p.code,
            discount_type: p.discount_type.as_str().to_owned(),
            discount_value: p.discount_value,
            min_amount_cents: p.min_amount_cents,
            max_discount_cents: p.max_discount_cents,
            max_uses: p.max_uses,
            current_uses: p.current_uses,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatePromoRequest {
    /// trimmed and upper-cased
    pub code: Option<String>,
    /// percentage | fixed
    pub discount_type: Option<String>,
    #[schema(value_type = i64)]
    pub discount_value: Option<Value>,
    #[schema(value_type = Option<i64>)]
    pub min_amount_cents: Option<Value>,
    #[schema(value_type = Option<i64>)]
    pub max_discount_cents: Option<Value>,
    /// 0 = unlimited
    #[schema(value_type = Option<i64>)]
    pub max_uses: Option<Value>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/promos", tag = "promos", security(("bearer" = [])), request_body = CreatePromoRequest,
    responses((status = 201, body = Envelope<PromoDto>), (status = 400, description = "bad dates or values", body = ErrorBody),
              (status = 409, description = "the code exists", body = ErrorBody), (status = 403, body = RawError)))]
pub async fn create_promo(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreatePromoRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let b = body.into_inner();
    let promo = NewPromo::parse(
        b.code.as_deref(),
        b.discount_type.as_deref(),
        b.discount_value.as_ref(),
        b.min_amount_cents.as_ref(),
        b.max_discount_cents.as_ref(),
        b.max_uses.as_ref(),
        b.valid_from.as_deref(),
        b.valid_until.as_deref(),
    )?;
    let created = service::create_promo(&state.services, actor(&user), promo).await?;
    Ok(envelope::created(PromoDto::from(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidatePromoRequest {
    pub code: Option<String>,
    pub amount_cents: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromoValidation {
    pub valid: bool,
    pub code: String,
    pub discount_cents: i64,
    /// "" when valid; else "promo code not found", "promo code is expired or fully used",
    /// "you have already used this promo code" or "minimum amount of N cents required"
    pub message: String,
}

#[utoipa::path(post, path = "/api/v1/promos/validate", tag = "promos", security(("bearer" = [])), request_body = ValidatePromoRequest,
    responses((status = 200, description = "always 200, also when valid is false", body = Envelope<PromoValidation>),
              (status = 400, body = ErrorBody)))]
pub async fn validate_promo(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ValidatePromoRequest>,
) -> Result<HttpResponse, AppError> {
    let code = body.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let code = code.ok_or_else(|| AppError::BadRequest("code is required".into()))?;
    let amount = body.amount_cents.ok_or_else(|| AppError::BadRequest("amount_cents is required".into()))?;
    let (valid, code, discount_cents, message) =
        service::validate_promo(&state.services, actor(&user), code, amount).await?;
    Ok(envelope::ok(PromoValidation { valid, code, discount_cents, message }))
}

#[utoipa::path(get, path = "/api/v1/promos/active", tag = "promos", security(("bearer" = [])),
    responses((status = 200, description = "in their window and not used up", body = Envelope<Vec<PromoDto>>)))]
pub async fn active_promos(state: web::Data<AppState>, _user: AuthUser) -> Result<HttpResponse, AppError> {
    let list = service::active_promos(&state.services).await?;
    Ok(envelope::ok(list.into_iter().map(PromoDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/admin/promos", tag = "promos", security(("bearer" = [])),
    responses((status = 200, description = "active ones, with their use counts", body = Envelope<Vec<PromoDto>>),
              (status = 403, body = RawError)))]
pub async fn admin_promos(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let list = service::active_promos(&state.services).await?;
    Ok(envelope::ok(list.into_iter().map(PromoDto::from).collect::<Vec<_>>()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanDto {
    pub plan: &'static str,
    pub price_cents: i64,
    pub duration_days: i64,
    pub discount_percent: i64,
    pub description: &'static str,
}

#[utoipa::path(get, path = "/api/v1/subscriptions/plans", tag = "subscriptions",
    responses((status = 200, body = Envelope<Vec<PlanDto>>)))]
pub async fn plans() -> HttpResponse {
    let list: Vec<PlanDto> = PLANS
        .iter()
        .map(|p| PlanDto {
            plan: p.plan,
            price_cents: p.price_cents,
            duration_days: p.duration_days,
            discount_percent: p.discount_percent,
            description: p.description,
        })
        .collect();
    envelope::ok(list)
}

/// SubscriptionDTO.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub plan: String,
    pub price_cents: i64,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub expires_at: DateTime<Utc>,
    /// active | cancelled (in force until expires_at, not renewed) | expired
    pub status: String,
    pub auto_renew: bool,
    /// ours
    pub discount_percent: i32,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionDto {
    fn from(s: Subscription) -> Self {
        Self {
            status: s.status_at(Utc::now()).to_owned(),
            id: s.id,
            user_id: s.user_id,
            plan: s.plan,
            price_cents: s.price_cents,
            started_at: s.started_at,
            expires_at: s.expires_at,
            auto_renew: s.auto_renew,
            discount_percent: s.discount_percent,
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// basic | premium
    pub plan: Option<String>,
    /// a provider payment method (`pm_…`) charged at once; the simulated provider needs none
    pub payment_method: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/subscriptions", tag = "subscriptions", security(("bearer" = [])), request_body = SubscribeRequest,
    responses((status = 201, description = "charged and captured at once", body = Envelope<SubscriptionDto>),
              (status = 400, description = "invalid plan", body = ErrorBody),
              (status = 402, description = "the card was declined or needs the app's confirmation", body = ErrorBody),
              (status = 409, description = "subscription already active", body = ErrorBody)))]
pub async fn subscribe(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<SubscribeRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let plan = b.plan.unwrap_or_default();
    let method = b.payment_method.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    let sub = service::subscribe(&state.services, actor(&user), &user.email, &plan, method).await?;
    Ok(envelope::created(SubscriptionDto::from(sub)))
}

#[utoipa::path(get, path = "/api/v1/subscriptions/me", tag = "subscriptions", security(("bearer" = [])),
    responses((status = 200, body = Envelope<SubscriptionDto>), (status = 404, description = "no active subscription", body = ErrorBody)))]
pub async fn my_subscription(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let sub = service::my_subscription(&state.services, actor(&user)).await?;
    Ok(envelope::ok(SubscriptionDto::from(sub)))
}

#[utoipa::path(post, path = "/api/v1/subscriptions/me/cancel", tag = "subscriptions", security(("bearer" = [])),
    responses((status = 200, description = "status cancelled, auto_renew false; the discount lasts to expires_at", body = Envelope<SubscriptionDto>),
              (status = 404, body = ErrorBody)))]
pub async fn cancel_subscription(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let sub = service::cancel_subscription(&state.services, actor(&user)).await?;
    Ok(envelope::ok(SubscriptionDto::from(sub)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralDto {
    pub id: Uuid,
    pub referee_id: Uuid,
    pub reward_amount_cents: i64,
    pub referrer_credited: bool,
    pub referee_credited: bool,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<Referral> for ReferralDto {
    fn from(r: Referral) -> Self {
        Self {
            id: r.id,
            referee_id: r.referee_id,
            reward_amount_cents: r.reward_amount_cents,
            referrer_credited: r.referrer_credited,
            referee_credited: r.referee_credited,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyReferrals {
    pub referral_code: String,
    pub total_referrals: usize,
    pub referrals: Vec<ReferralDto>,
}

#[utoipa::path(get, path = "/api/v1/referrals/me", tag = "referrals", security(("bearer" = [])),
    responses((status = 200, description = "creates a code if the user has none", body = Envelope<MyReferrals>)))]
pub async fn my_referrals(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let (referral_code, list) = service::referrals(&state.services, actor(&user)).await?;
    Ok(envelope::ok(MyReferrals {
        referral_code,
        total_referrals: list.len(),
        referrals: list.into_iter().map(ReferralDto::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralCode {
    pub referral_code: String,
}

#[utoipa::path(get, path = "/api/v1/referrals/code", tag = "referrals", security(("bearer" = [])),
    responses((status = 200, body = Envelope<ReferralCode>)))]
pub async fn referral_code(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let referral_code = service::referral_code(&state.services, actor(&user)).await?;
    Ok(envelope::ok(ReferralCode { referral_code }))
}
