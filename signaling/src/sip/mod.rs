//! The SIP user agent of the gateway, over rsipstack (transactions, retransmissions, UDP/TCP).
//!
//! * [`digest`]: RFC 2617/7616 MD5 digest answers computed from the account's HA1 (pure).
//! * [`register`]: the registration protocol core: REGISTER text, challenge answers, granted
//!   expiry, refresh timing (pure, no IO or clock).
//! * [`addr`]: the outbound proxy setting, targets, AOR parts (pure).
//! * [`ua`]: the tokio shell: [`SipUa`] binds UDP + TCP, resolves targets (outbound proxy or
//!   RFC 3263), runs client transactions, answers OPTIONS.
//! * [`registration`]: one account's registration task ([`SipUa::register`] -> [`Registration`];
//!   dropping it unregisters), reporting [`RegistrationUpdate`]s.
//!
//! The contract with the application: `account-register` resolves the target first (a DNS
//! failure is the request's error), then starts a registration whose updates
//! (`registering`, `registered`, `failed "<code> <reason>"`) become `registration-state`
//! events; dropping the handle (account-unregister, account-remove, connection closed) sends
//! `REGISTER Expires: 0` for that binding only.

pub mod addr;
pub mod digest;
pub mod register;
pub mod registration;
pub mod ua;

pub use addr::{Aor, ProxyUri, Target, Transport};
pub use register::Ha1;
pub use registration::{RegisterAccount, Registration, RegistrationState, RegistrationUpdate};
pub use ua::{ResolveError, SipUa, StartError, UaConfig};
