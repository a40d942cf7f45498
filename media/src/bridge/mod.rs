//! The bridge toward SIP: plain RTP/RTCP legs ([`plain`]: symmetric latching, payload-type
//! and SSRC rewriting, reports) and their SDP ([`sdp`]). Pure: the core owns the legs, the
//! engine shell their sockets.

pub mod phone;
pub mod plain;
pub mod sdes;
pub mod sdp;
