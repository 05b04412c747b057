//! The ledger's storage: posting a movement (in the caller's transaction),
//! balances as sums of entries, and the reconciliation check.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, DbError};
use crate::domain::ledger::{Account, Movement};

/// What a ledger transaction is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Refs {
    pub payment_id: Option<Uuid>,
    pub booking_id: Option<Uuid>,
    pub cash_out_id: Option<Uuid>,
}

/// Makes sure `account` has its row (the row a no-overdraw check locks).
pub async fn open(conn: &mut Conn, account: Account) -> Result<(), DbError> {
    diesel::sql_query(
        "INSERT INTO ledger_accounts (code, kind, holder_id) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING",
    )
    .bind::<Text, _>(account.code())
    .bind::<Text, _>(account.kind())
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(account.holder())
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `movement` as one ledger transaction, in the caller's database
/// transaction. An unbalanced movement is refused (it would be a bug).
/// Returns false when this movement of this payment or cash-out was
/// already posted (a repeated step).
pub async fn post(conn: &mut Conn, movement: &Movement, refs: Refs) -> Result<bool, DbError> {
    if !movement.is_balanced() {
        return Err(DbError::corrupt(format!("unbalanced ledger movement {}: {:?}", movement.kind, movement.legs)));
    }
    if movement.legs.is_empty() {
        return Ok(true);
    }
    for leg in &movement.legs {
        open(conn, leg.account).await?;
    }
    let id = super::new_id();
    let inserted = diesel::sql_query(
        "INSERT INTO ledger_transactions (id, kind, payment_id, booking_id, cash_out_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(movement.kind)
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(refs.payment_id)
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(refs.booking_id)
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(refs.cash_out_id)
    .execute(conn)
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    let accounts: Vec<String> = movement.legs.iter().map(|l| l.account.code()).collect();
    let amounts: Vec<i64> = movement.legs.iter().map(|l| l.amount_cents).collect();
    diesel::sql_query(
        "INSERT INTO ledger_entries (transaction_id, account, amount_cents) \
         SELECT $1, a, n FROM unnest($2::text[], $3::bigint[]) AS t(a, n)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<diesel::sql_types::Array<Text>, _>(&accounts)
    .bind::<diesel::sql_types::Array<BigInt>, _>(&amounts)
    .execute(conn)
    .await?;
    Ok(true)
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// An account's balance: the sum of its entries.
pub async fn balance(conn: &mut Conn, account: Account) -> Result<i64, DbError> {
    let row: Sum =
        diesel::sql_query("SELECT COALESCE(sum(amount_cents), 0)::bigint AS n FROM ledger_entries WHERE account = $1")
            .bind::<Text, _>(account.code())
            .get_result(conn)
            .await?;
    Ok(row.n)
}

/// Locks `account`'s row until the end of the transaction (taken by every
/// movement that must not overdraw it), then reads its balance.
pub async fn locked_balance(conn: &mut Conn, account: Account) -> Result<i64, DbError> {
    open(conn, account).await?;
    diesel::sql_query("SELECT 1 FROM ledger_accounts WHERE code = $1 FOR UPDATE")
        .bind::<Text, _>(account.code())
        .execute(conn)
        .await?;
    balance(conn, account).await
}

#[derive(Debug, Clone, QueryableByName)]
pub struct AccountBalance {
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<SqlUuid>)]
    pub holder_id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    pub balance_cents: i64,
}

/// What the reconciliation found.
#[derive(Debug, Clone)]
pub struct Check {
    pub accounts: Vec<AccountBalance>,
    /// Ledger transactions whose entries do not sum to zero.
    pub unbalanced_transactions: Vec<Uuid>,
    /// Released payments without their `escrow_released` transaction.
    pub released_without_entries: Vec<Uuid>,
    /// Held payments without their `escrow_held` transaction.
    pub held_without_entries: Vec<Uuid>,
    /// The escrow account's balance, and the sum of the held payments it must equal.
    pub escrow_balance_cents: i64,
    pub held_payments_cents: i64,
    /// Cash-outs whose in-flight money disagrees with their status.
    pub cash_outs_mismatched: Vec<Uuid>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.unbalanced_transactions.is_empty()
            && self.released_without_entries.is_empty()
            && self.held_without_entries.is_empty()
            && self.escrow_balance_cents == self.held_payments_cents
            && self.cash_outs_mismatched.is_empty()
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

async fn ids(conn: &mut Conn, sql: &str) -> Result<Vec<Uuid>, DbError> {
    let rows: Vec<Id> = diesel::sql_query(sql).load(conn).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Reconciles the ledger with itself and with the payments and cash-outs.
/// Run in a repeatable-read transaction so every figure is of one moment.
pub async fn check(conn: &mut Conn) -> Result<Check, DbError> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run::<Check, DbError, _>(async |conn| {
            let accounts: Vec<AccountBalance> = diesel::sql_query(
                "SELECT a.code, a.kind, a.holder_id, COALESCE(sum(e.amount_cents), 0)::bigint AS balance_cents \
                 FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account = a.code \
                 GROUP BY a.code ORDER BY a.code",
            )
            .load(conn)
            .await?;
            let unbalanced_transactions = ids(
                conn,
                "SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id \
                 GROUP BY t.id HAVING COALESCE(sum(e.amount_cents), 0) <> 0",
            )
            .await?;
            let released_without_entries = ids(
                conn,
                "SELECT p.id FROM payments p WHERE p.escrow_status = 'released' AND NOT EXISTS \
                 (SELECT 1 FROM ledger_transactions t WHERE t.payment_id = p.id AND t.kind = 'escrow_released')",
            )
            .await?;
            let held_without_entries = ids(
                conn,
                "SELECT p.id FROM payments p WHERE p.escrow_held_at IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM ledger_transactions t WHERE t.payment_id = p.id AND t.kind = 'escrow_held')",
            )
            .await?;
            let escrow_balance_cents = balance(conn, Account::Escrow).await?;
            let held: Sum = diesel::sql_query(
                "SELECT COALESCE(sum(amount_cents + discount_cents + credit_cents), 0)::bigint AS n \
                 FROM payments WHERE escrow_status = 'held'",
            )
            .get_result(conn)
            .await?;
            // a cash-out's in-flight money: +amount while pending/processing, 0 once finished
            let cash_outs_mismatched = ids(
                conn,
                "SELECT c.id FROM cash_outs c WHERE \
                   (SELECT COALESCE(sum(e.amount_cents), 0) FROM ledger_transactions t \
                      JOIN ledger_entries e ON e.transaction_id = t.id \
                    WHERE t.cash_out_id = c.id AND e.account = 'runner:' || c.runner_id || ':in_flight') \
                   <> CASE WHEN c.status IN ('pending', 'processing') THEN c.amount_cents ELSE 0 END",
            )
            .await?;
            Ok(Check {
                accounts,
                unbalanced_transactions,
                released_without_entries,
                held_without_entries,
                escrow_balance_cents,
                held_payments_cents: held.n,
                cash_outs_mismatched,
            })
        })
        .await
}

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The credit an owner may spend now: their credit balance less what their
/// pending payments already count on. Locks the credit account, so two
/// payments opened at once cannot both spend it.
pub async fn spendable_credit(conn: &mut Conn, owner: Uuid) -> Result<i64, DbError> {
    // most owners have no credit: no lock, no account row for them
    if balance(conn, Account::OwnerCredit(owner)).await? <= 0 {
        return Ok(0);
    }
    let balance = locked_balance(conn, Account::OwnerCredit(owner)).await?;
    if balance <= 0 {
        return Ok(0);
    }
    let reserved: Reserved = diesel::sql_query(
        "SELECT COALESCE(sum(credit_cents), 0)::bigint AS n FROM payments \
         WHERE owner_id = $1 AND escrow_status = 'pending'",
    )
    .bind::<SqlUuid, _>(owner)
    .get_result(conn)
    .await?;
    Ok((balance - reserved.n).max(0))
}
