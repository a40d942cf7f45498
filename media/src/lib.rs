//! The media plane of the gateway (WebRTC peers over webrtc-rs `rtc`, plain RTP legs, the SFU
//! router and the WebRTC <-> RTP bridge), driven by one engine task that owns the UDP socket.
//!
//! Empty for now: it arrives with the video-rooms issue. The crate exists so that the workspace
//! layout (`src` -> `signaling`, `src` -> `media`) is in place from the start.
