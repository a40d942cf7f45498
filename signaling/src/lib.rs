//! The signaling protocols of the gateway, with no media and no IO in their cores.
//!
//! * [`sylkrtc`]: the sylkRTC-2 WebSocket protocol spoken by sylkrtc.js clients.
//! * [`sip`]: the SIP user agent (registration with HA1 digest) over rsipstack.
//! * [`rate`]: token buckets (pure), for the limits on requests and SIP sources.

pub mod rate;
pub mod sip;
pub mod sylkrtc;
