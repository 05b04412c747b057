//! Status columns as Rust enums: each is stored as its text name and read
//! back through the enum's own parser, so an unknown value is a
//! deserialisation error, never a silent fallback. (The enums carry
//! diesel's `AsExpression`/`FromSqlRow` derives; the text mapping is here.)

use std::io::Write;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::application::ApplicationStatus;
use crate::domain::booking::{BookingStatus, TrackStatus};
use crate::domain::eligibility::Shift;
use crate::domain::identity::Role;
use crate::domain::notifications::DeliveryStatus;
use crate::domain::payment::{EscrowStatus, Step};
use crate::domain::payout::CashOutStatus;
use crate::domain::pet::PetStatus;
use crate::domain::promo::DiscountType;

macro_rules! text_enum {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let raw = std::str::from_utf8(bytes.as_bytes())?;
                <$ty>::parse(raw).ok_or_else(|| format!(concat!("unknown ", $what, " '{}' in the database"), raw).into())
            }
        }
    )*};
}

text_enum! {
    BookingStatus => "booking status",
    EscrowStatus => "escrow status",
    Role => "role",
    Step => "saga step",
    TrackStatus => "trip track status",
    Shift => "runner shift",
    DeliveryStatus => "notification status",
    PetStatus => "pet status",
    ApplicationStatus => "runner application status",
    CashOutStatus => "cash-out status",
    DiscountType => "promo discount type",
}
