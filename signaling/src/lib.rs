//! The signaling protocols of the gateway, with no media and no IO in their cores.
//!
//! * [`sylkrtc`]: the sylkRTC-2 WebSocket protocol spoken by sylkrtc.js clients.

pub mod sylkrtc;
