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
//! * [`invite`]: the outgoing call's protocol core: INVITE text, challenge answers, the dialog
//!   of the 2xx (route set, remote target), CANCEL and BYE (pure).
//! * [`incoming`]: incoming calls: an INVITE for one of our bindings goes to the owner that
//!   [`SipUa::route_incoming`] named for it ([`IncomingUpdate`]s: the invite, re-INVITEs, the
//!   end); 180, 200 with the answer, decline, CANCEL (487, missed), BYE both ways, DTMF INFO.
//! * [`trust`]: which sources are trusted with what (by socket address, never by headers),
//!   and whose digest challenges are answered (pure); a per-source guard in the endpoint loop
//!   bounds what one untrusted source may send and how many TCP connections it may hold.
//! * [`message`]: MESSAGE outside dialogs: [`SipUa::send_message`] (one challenge answered
//!   from the HA1) and [`SipUa::route_messages`] (incoming ones, answered by the application).
//! * [`call`]: one outgoing call's task ([`SipUa::call`] -> [`OutgoingCall`]; hanging up or
//!   dropping it sends CANCEL or BYE), reporting [`CallUpdate`]s; the far end's BYE reaches it
//!   through the user agent's registry of calls by Call-ID.
//!
//! The contract with the application: `account-register` resolves the target first (a DNS
//! failure is the request's error), then starts a registration whose updates
//! (`registering`, `registered`, `failed "<code> <reason>"`) become `registration-state`
//! events; dropping the handle (account-unregister, account-remove, connection closed) sends
//! `REGISTER Expires: 0` for that binding only.

pub mod addr;
pub mod call;
pub mod conference;
pub mod cpim;
pub mod digest;
mod guard;
pub mod incoming;
pub mod invite;
pub mod message;
pub mod register;
pub mod registration;
pub mod trust;
pub mod ua;

pub use addr::{Aor, ProxyUri, Target, Transport};
pub use call::{
    CallError, CallEvent, CallRequest, CallUpdate, OutMessage, OutgoingCall, Reinvite, SipMessageIn,
};
pub use guard::SourceLimits;
pub use incoming::{IncomingCall, IncomingEvent, IncomingInvite, IncomingUpdate, MissedInvite};
pub use message::{IncomingMessage, OutgoingMessage};
pub use register::Ha1;
pub use registration::{RegisterAccount, Registration, RegistrationState, RegistrationUpdate};
pub use trust::{Privilege, RealmPolicy, Sources};
pub use ua::{ResolveError, SipUa, StartError, UaConfig};
