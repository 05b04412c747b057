//! The double-entry ledger's rules (docs/API.md#ledger): which accounts
//! exist, and which entries each money movement makes. Every movement is a
//! list of legs summing to zero, in sen; a positive amount adds to the
//! account's balance. So the owner's funding account goes negative by what
//! they paid in, a runner's available account positive by what they earned.

use uuid::Uuid;

use super::payment::EscrowStatus;

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// Money held for bookings not yet settled.
    Escrow,
    /// The platform's share of released bookings, and cash-out fees.
    PlatformFees,
    /// What the platform gives away: promo and subscription discounts,
    /// referral rewards.
    PlatformMarketing,
    /// Subscription fees received.
    PlatformSubscriptions,
    /// What an owner paid in (negative) and got back.
    OwnerFunding(Uuid),
    /// Credit an owner may spend on their next payments (referral rewards).
    OwnerCredit(Uuid),
    /// What a runner earned and may cash out.
    RunnerAvailable(Uuid),
    /// A runner's cash-outs on their way to the bank.
    RunnerInFlight(Uuid),
    /// What reached the runner's bank.
    RunnerPaidOut(Uuid),
}

impl Account {
    pub fn code(&self) -> String {
        match self {
            Account::Escrow => "escrow".into(),
            Account::PlatformFees => "platform:fees".into(),
            Account::PlatformMarketing => "platform:marketing".into(),
            Account::PlatformSubscriptions => "platform:subscriptions".into(),
            Account::OwnerFunding(id) => format!("owner:{id}:funding"),
            Account::OwnerCredit(id) => format!("owner:{id}:credit"),
            Account::RunnerAvailable(id) => format!("runner:{id}:available"),
            Account::RunnerInFlight(id) => format!("runner:{id}:in_flight"),
            Account::RunnerPaidOut(id) => format!("runner:{id}:paid_out"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Account::Escrow => "escrow",
            Account::PlatformFees => "platform_fees",
            Account::PlatformMarketing => "platform_marketing",
            Account::PlatformSubscriptions => "platform_subscriptions",
            Account::OwnerFunding(_) => "owner_funding",
            Account::OwnerCredit(_) => "owner_credit",
            Account::RunnerAvailable(_) => "runner_available",
            Account::RunnerInFlight(_) => "runner_in_flight",
            Account::RunnerPaidOut(_) => "runner_paid_out",
        }
    }

    /// The user the account belongs to, if any.
    pub fn holder(&self) -> Option<Uuid> {
        match self {
            Account::Escrow | Account::PlatformFees | Account::PlatformMarketing | Account::PlatformSubscriptions => {
                None
            }
            Account::OwnerFunding(id)
            | Account::OwnerCredit(id)
            | Account::RunnerAvailable(id)
            | Account::RunnerInFlight(id)
            | Account::RunnerPaidOut(id) => Some(*id),
        }
    }
}

/// One entry of a movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    pub account: Account,
    pub amount_cents: i64,
}

fn leg(account: Account, amount_cents: i64) -> Leg {
    Leg { account, amount_cents }
}

/// A money movement: its kind and its legs (zero legs dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub kind: &'static str,
    pub legs: Vec<Leg>,
}

impl Movement {
    fn new(kind: &'static str, legs: Vec<Leg>) -> Self {
        Self { kind, legs: legs.into_iter().filter(|l| l.amount_cents != 0).collect() }
    }

    /// Entries sum to zero.
    pub fn is_balanced(&self) -> bool {
        self.legs.iter().map(|l| l.amount_cents as i128).sum::<i128>() == 0
    }
}

/// What the ledger needs to know of a payment. The booking's price is
/// `amount` (charged to the card) + `discount` (promo and subscription,
/// paid by the platform's marketing) + `credit` (the owner's credit), and
/// it is what the runner's payout and the platform's fee split.
#[derive(Debug, Clone, Copy)]
pub struct PaymentFacts {
    pub owner_id: Uuid,
    pub runner_id: Option<Uuid>,
    pub amount_cents: i64,
    pub discount_cents: i64,
    pub credit_cents: i64,
    pub platform_fee_cents: i64,
    pub runner_payout_cents: i64,
}

impl PaymentFacts {
    pub fn price_cents(&self) -> i64 {
        self.amount_cents + self.discount_cents + self.credit_cents
    }

    /// Where the price came from, signed as it leaves (−1) or returns (+1).
    fn sources(&self, sign: i64) -> Vec<Leg> {
        vec![
            leg(Account::OwnerFunding(self.owner_id), sign * self.amount_cents),
            leg(Account::PlatformMarketing, sign * self.discount_cents),
            leg(Account::OwnerCredit(self.owner_id), sign * self.credit_cents),
        ]
    }
}

/// The movement an escrow status change makes, if any:
/// - held: the price into escrow, from the owner's card, the platform's
///   marketing (discounts) and the owner's credit;
/// - released (captured): escrow → runner (payout) + platform (fee);
/// - given back from held (void, refund, or a failure after the hold):
///   escrow → back where it came from;
/// - refunded after release: runner and platform → back where it came from.
pub fn escrow_movement(from: EscrowStatus, to: EscrowStatus, p: &PaymentFacts) -> Option<Movement> {
    use EscrowStatus::*;
    let price = p.price_cents();
    match (from, to) {
        (Pending, Held) => {
            let mut legs = p.sources(-1);
            legs.push(leg(Account::Escrow, price));
            Some(Movement::new("escrow_held", legs))
        }
        (Held, Released) => {
            let runner = Account::RunnerAvailable(p.runner_id?);
            Some(Movement::new(
                "escrow_released",
                vec![
                    leg(Account::Escrow, -price),
                    leg(runner, p.runner_payout_cents),
                    leg(Account::PlatformFees, p.platform_fee_cents),
                ],
            ))
        }
        (Held, Refunded | Failed) => {
            let mut legs = p.sources(1);
            legs.push(leg(Account::Escrow, -price));
            Some(Movement::new("escrow_returned", legs))
        }
        (Released, Refunded) => {
            let runner = Account::RunnerAvailable(p.runner_id?);
            let mut legs = p.sources(1);
            legs.extend([leg(runner, -p.runner_payout_cents), leg(Account::PlatformFees, -p.platform_fee_cents)]);
            Some(Movement::new("released_refunded", legs))
        }
        _ => None,
    }
}

/// A subscription paid for: the owner's card → the platform.
pub fn subscription_charged(owner: Uuid, price_cents: i64) -> Movement {
    Movement::new(
        "subscription_charged",
        vec![leg(Account::OwnerFunding(owner), -price_cents), leg(Account::PlatformSubscriptions, price_cents)],
    )
}

/// A referral reward: the platform's marketing → the user's credit.
pub fn referral_reward(user: Uuid, amount_cents: i64) -> Movement {
    Movement::new(
        "referral_reward",
        vec![leg(Account::PlatformMarketing, -amount_cents), leg(Account::OwnerCredit(user), amount_cents)],
    )
}

/// A cash-out requested: the amount leaves what the runner may spend for
/// the payout in flight, the fee goes to the platform.
pub fn cash_out_requested(runner: Uuid, amount_cents: i64, fee_cents: i64) -> Movement {
    Movement::new(
        "cash_out_requested",
        vec![
            leg(Account::RunnerAvailable(runner), -(amount_cents + fee_cents)),
            leg(Account::RunnerInFlight(runner), amount_cents),
            leg(Account::PlatformFees, fee_cents),
        ],
    )
}

/// The rail paid it: in flight → paid out.
pub fn cash_out_paid(runner: Uuid, amount_cents: i64) -> Movement {
    Movement::new(
        "cash_out_paid",
        vec![leg(Account::RunnerInFlight(runner), -amount_cents), leg(Account::RunnerPaidOut(runner), amount_cents)],
    )
}

/// The rail refused it: amount and fee back to the runner.
pub fn cash_out_failed(runner: Uuid, amount_cents: i64, fee_cents: i64) -> Movement {
    Movement::new(
        "cash_out_failed",
        vec![
            leg(Account::RunnerInFlight(runner), -amount_cents),
            leg(Account::PlatformFees, -fee_cents),
            leg(Account::RunnerAvailable(runner), amount_cents + fee_cents),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worked() -> PaymentFacts {
        PaymentFacts {
            owner_id: Uuid::from_u128(1),
            runner_id: Some(Uuid::from_u128(2)),
            amount_cents: 2460,
            discount_cents: 300,
            credit_cents: 200,
            platform_fee_cents: 444,
            runner_payout_cents: 2516,
        }
    }

    #[test]
    fn every_escrow_movement_balances() {
        use EscrowStatus::*;
        let p = worked();
        for (from, to) in [(Pending, Held), (Held, Released), (Held, Refunded), (Held, Failed), (Released, Refunded)] {
            let m = escrow_movement(from, to, &p).unwrap();
            assert!(m.is_balanced(), "{from} → {to}: {m:?}");
        }
        assert!(escrow_movement(Pending, Failed, &p).is_none(), "nothing was held");
        assert!(escrow_movement(Pending, Refunded, &p).is_none(), "a void before the hold moves nothing");
        let held = escrow_movement(Pending, Held, &p).unwrap();
        assert!(held.legs.contains(&leg(Account::Escrow, 2960)), "the whole price is held: {held:?}");
        assert!(held.legs.contains(&leg(Account::PlatformMarketing, -300)));
        assert!(held.legs.contains(&leg(Account::OwnerCredit(Uuid::from_u128(1)), -200)));
        let released = escrow_movement(Held, Released, &p).unwrap();
        assert!(released.legs.contains(&leg(Account::RunnerAvailable(Uuid::from_u128(2)), 2516)));
        assert!(released.legs.contains(&leg(Account::PlatformFees, 444)));
    }

    #[test]
    fn cash_outs_balance_and_a_failure_undoes_the_request() {
        let runner = Uuid::from_u128(2);
        let asked = cash_out_requested(runner, 2000, 50);
        let failed = cash_out_failed(runner, 2000, 50);
        assert!(asked.is_balanced() && failed.is_balanced() && cash_out_paid(runner, 2000).is_balanced());
        for account in [Account::RunnerAvailable(runner), Account::RunnerInFlight(runner), Account::PlatformFees] {
            let net: i64 =
                asked.legs.iter().chain(&failed.legs).filter(|l| l.account == account).map(|l| l.amount_cents).sum();
            assert_eq!(net, 0, "{account:?}");
        }
        assert_eq!(Account::RunnerAvailable(runner).code(), format!("runner:{runner}:available"));
    }
}
