//! Pure types and rules: no actix, no I/O. Parse, don't validate. (Status
//! enums carry diesel's text-mapping derives; the mapping is `db::pg_enum`.)

/// A closed set of states stored as text: the enum, `ALL`, `as_str`,
/// `parse`, `Display`, and serde as the text.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub mod application;
pub mod backoff;
pub mod booking;
pub mod bus;
pub mod crates;
pub mod dispatch;
pub mod eligibility;
pub mod events;
pub mod frames;
pub mod geo;
pub mod identity;
pub mod ledger;
pub mod notifications;
pub mod payment;
pub mod payout;
pub mod pet;
pub mod pricing;
pub mod promo;
pub mod review;
pub mod schedule;
pub mod time;

/// A rule said no to a change, checked where the change is made (under
/// the row's lock); the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not the caller's to change.
    #[error("{0}")]
    NotYours(&'static str),
    /// The state machine has no such step.
    #[error("cannot transition from '{from}' to '{to}'")]
    Transition { from: &'static str, to: &'static str },
    /// Understood, but not possible now (with why).
    #[error("{error}")]
    Unprocessable { error: String, detail: String },
    /// The request does not match what is stored (an amount, a currency).
    #[error("{0}")]
    Mismatch(String),
}

/// A rule was broken by the caller's input; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
