//! Escrow payments (contract §2.5, §4.7): a `PaymentGateway` trait with an
//! async-stripe adapter (manual capture) and a simulated one, driven by a
//! saga. Planned in the payments issue; async-stripe is already pinned in
//! Cargo.toml so the dependency set is settled.
