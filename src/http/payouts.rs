//! Runners' balance, payout destinations and cash-outs (contract §8.6,
//! docs/API.md#cash-out), and the admin's ledger check and payout dead
//! letters.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Paginated, Pagination, RawError};
use super::extract::{AuthUser, PageQuery, parse_id};
use crate::db::ledger::{AccountBalance, Check};
use crate::db::payouts::{CashOut, StoredDestination};
use crate::domain::booking::Actor;
use crate::domain::identity::Role;
use crate::domain::payout::{CashOutStatus, eta_minutes};
use crate::domain::time::{self, rfc3339_opt};
use crate::error::AppError;
use crate::services::payouts as service;

fn runner(user: &AuthUser) -> Result<Actor, AppError> {
    user.require(Role::Runner)?;
    Ok(Actor { id: user.id, role: user.role })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceDto {
    /// earned and not cashed out; a cash-out may take this less the fee
    pub available_cents: i64,
    /// cash-outs on their way to the bank
    pub pending_cents: i64,
    /// what reached the bank
    pub paid_out_cents: i64,
    pub currency: String,
    /// charged on each cash-out
    pub cash_out_fee_cents: i64,
}

#[utoipa::path(get, path = "/api/v1/payouts/balance", tag = "payouts", security(("bearer" = [])),
    responses((status = 200, description = "from the ledger: what the runner's completed trips paid, less cash-outs", body = Envelope<BalanceDto>),
              (status = 403, body = RawError)))]
pub async fn balance(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let b = service::balance(&state.services, runner(&user)?).await?;
    Ok(envelope::ok(BalanceDto {
        available_cents: b.available_cents,
        pending_cents: b.pending_cents,
        paid_out_cents: b.paid_out_cents,
        currency: "MYR".into(),
        cash_out_fee_cents: state.settings.payouts.fee_cents,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationDto {
    pub id: Uuid,
    pub bank_name: String,
    pub account_holder: String,
    /// `•••• 6789`: the full number is never stored
    pub account_masked: String,
    /// the rail's id for it (`acct_…`; `sim_…` on the simulated rail)
    pub rail_account: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<StoredDestination> for DestinationDto {
    fn from(d: StoredDestination) -> Self {
        Self {
            id: d.id,
            bank_name: d.bank_name,
            account_holder: d.account_holder,
            account_masked: d.account_masked,
            rail_account: d.rail_account,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DestinationRequest {
    pub bank_name: Option<String>,
    pub account_holder: Option<String>,
    /// 6 to 20 digits; only the last four are kept
    pub account_number: Option<String>,
    /// the runner's Stripe connected account (`acct_…`); required on the Stripe rail
    pub rail_account: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/payouts/destinations", tag = "payouts", security(("bearer" = [])),
    request_body = DestinationRequest,
    responses((status = 201, body = Envelope<DestinationDto>), (status = 400, body = ErrorBody), (status = 403, body = RawError)))]
pub async fn add_destination(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<DestinationRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = service::DestinationInput {
        bank_name: body.bank_name,
        account_holder: body.account_holder,
        account_number: body.account_number,
        rail_account: body.rail_account,
    };
    let d = service::add_destination(&state.services, runner(&user)?, input).await?;
    Ok(envelope::created(DestinationDto::from(d)))
}

#[utoipa::path(get, path = "/api/v1/payouts/destinations", tag = "payouts", security(("bearer" = [])),
    responses((status = 200, description = "the runner's own, newest first", body = Envelope<Vec<DestinationDto>>), (status = 403, body = RawError)))]
pub async fn destinations(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let list = service::destinations(&state.services, runner(&user)?).await?;
    Ok(envelope::ok(list.into_iter().map(DestinationDto::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CashOutRequest {
    /// sen, a whole number above 0
    #[schema(value_type = i64)]
    pub amount_myr_cents: Option<Value>,
    pub destination_id: Option<String>,
}

/// Raw (no envelope), as the apps expect.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CashOutAccepted {
    pub cash_out_id: Uuid,
    pub eta_minutes: u64,
}

#[utoipa::path(post, path = "/api/v1/payouts/cash-out", tag = "payouts", security(("bearer" = [])),
    request_body = CashOutRequest,
    responses((status = 202, description = "raw: pending; sent to the rail after payouts.rail_delay_secs", body = CashOutAccepted),
              (status = 400, description = "validation, or \"amount exceeds available balance\" (amount + fee over the available balance)", body = ErrorBody),
              (status = 403, description = "raw: \"destination does not belong to runner\", or not a runner", body = RawError)))]
pub async fn cash_out(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CashOutRequest>,
) -> Result<HttpResponse, AppError> {
    let me = runner(&user)?;
    let done =
        service::cash_out(&state.services, me, body.amount_myr_cents.as_ref(), body.destination_id.as_deref()).await;
    match done {
        Ok(c) => Ok(HttpResponse::Accepted().json(CashOutAccepted {
            cash_out_id: c.id,
            eta_minutes: eta_minutes(state.settings.payouts.rail_delay_secs),
        })),
        Err(AppError::Forbidden(_)) => {
            Err(AppError::Auth { status: StatusCode::FORBIDDEN, message: "destination does not belong to runner" })
        }
        Err(err) => Err(err),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CashOutDto {
    pub id: Uuid,
    pub destination_id: Uuid,
    pub amount_cents: i64,
    pub fee_cents: i64,
    pub currency: String,
    /// pending | processing | completed | failed
    #[schema(value_type = String)]
    pub status: CashOutStatus,
    /// the rail's transfer id once paid (`tr_…`, `DN-…`)
    pub rail_reference: String,
    pub failure_reason: String,
    pub attempts: i32,
    /// last transient rail error (kept while retrying)
    pub last_error: String,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub dead_lettered_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub failed_at: Option<DateTime<Utc>>,
}

impl From<CashOut> for CashOutDto {
    fn from(c: CashOut) -> Self {
        Self {
            id: c.id,
            destination_id: c.destination_id,
            amount_cents: c.amount_cents,
            fee_cents: c.fee_cents,
            currency: c.currency,
            status: c.status,
            rail_reference: c.rail_reference,
            failure_reason: c.failure_reason,
            attempts: c.attempts,
            last_error: c.last_error,
            dead_lettered_at: c.dead_lettered_at,
            created_at: c.created_at,
            completed_at: c.completed_at,
            failed_at: c.failed_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/payouts/cash-outs", tag = "payouts", security(("bearer" = [])),
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "the runner's own, newest first", body = Paginated<CashOutDto>), (status = 403, body = RawError)))]
pub async fn cash_outs(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (page, limit) = query.admin();
    let (rows, total) = service::history(&state.services, runner(&user)?, page, limit).await?;
    Ok(envelope::paginated(rows.into_iter().map(CashOutDto::from).collect(), Pagination::new(total, page, limit)))
}

#[utoipa::path(get, path = "/api/v1/admin/payouts/dead-letters", tag = "payouts", security(("bearer" = [])),
    responses((status = 200, description = "cash-outs out of rail attempts; their money stays in flight until retried", body = Envelope<Vec<CashOutDto>>),
              (status = 403, body = RawError)))]
pub async fn dead_letters(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let rows = service::dead_letters(&state.services).await?;
    Ok(envelope::ok(rows.into_iter().map(CashOutDto::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/admin/payouts/dead-letters/{id}/retry", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path, description = "the cash-out's id")),
    responses((status = 200, description = "due again now, under the same idempotency key", body = Envelope<CashOutDto>),
              (status = 404, body = ErrorBody)))]
pub async fn retry_dead_letter(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = parse_id(&id, "cash-out")?;
    let c = service::retry(&state.services, id).await?;
    Ok(envelope::ok(CashOutDto::from(c)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDto {
    /// `escrow`, `platform:fees`, `owner:<id>:funding`, `runner:<id>:available|in_flight|paid_out`
    pub code: String,
    pub kind: String,
    pub holder_id: Option<Uuid>,
    /// the sum of its entries
    pub balance_cents: i64,
}

impl From<AccountBalance> for AccountDto {
    fn from(a: AccountBalance) -> Self {
        Self { code: a.code, kind: a.kind, holder_id: a.holder_id, balance_cents: a.balance_cents }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerCheck {
    /// true only when every check below passes
    pub ok: bool,
    pub accounts: Vec<AccountDto>,
    /// the sum of all balances (0 in a double-entry ledger)
    pub total_cents: i64,
    /// ledger transactions whose entries do not sum to zero
    pub unbalanced_transactions: Vec<Uuid>,
    /// released payments without their escrow_released entries
    pub released_without_entries: Vec<Uuid>,
    /// held (or once held) payments without their escrow_held entries
    pub held_without_entries: Vec<Uuid>,
    pub escrow_balance_cents: i64,
    /// what the escrow balance must equal: the payments held now
    pub held_payments_cents: i64,
    /// cash-outs whose money in flight disagrees with their status
    pub cash_outs_mismatched: Vec<Uuid>,
}

impl From<Check> for LedgerCheck {
    fn from(c: Check) -> Self {
        let ok = c.ok();
        let total_cents = c.accounts.iter().map(|a| a.balance_cents).sum();
        Self {
            ok,
            accounts: c.accounts.into_iter().map(AccountDto::from).collect(),
            total_cents,
            unbalanced_transactions: c.unbalanced_transactions,
            released_without_entries: c.released_without_entries,
            held_without_entries: c.held_without_entries,
            escrow_balance_cents: c.escrow_balance_cents,
            held_payments_cents: c.held_payments_cents,
            cash_outs_mismatched: c.cash_outs_mismatched,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/ledger/check", tag = "payouts", security(("bearer" = [])),
    responses((status = 200, description = "every account's balance and the reconciliation", body = Envelope<LedgerCheck>),
              (status = 403, body = RawError)))]
pub async fn ledger_check(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let check = crate::db::ledger::check(&mut conn).await?;
    Ok(envelope::ok(LedgerCheck::from(check)))
}
