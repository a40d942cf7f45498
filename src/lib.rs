//! sylk-gateway: a SylkServer-compatible WebRTC gateway in one process.
//!
//! Browsers speak sylkRTC-2 (JSON over a WebSocket at `/webrtcgateway/ws`). Each WebSocket is
//! a pair of tasks: [`ws`] owns the socket (reads frames, answers pings and validation errors
//! at once, writes the outbox), [`connection`] handles the connection's valid requests in
//! order and owns its accounts and sessions ([`calls`]: its 1:1 SIP calls, [`videoroom`]: its
//! conference sessions). [`server`] binds the listener (TLS with a configured or generated
//! certificate, or plain), [`config`] gathers the settings, [`filesharing`] serves conference
//! file sharing over HTTP.

pub mod access;
pub mod addressbook;
pub mod admin;
pub mod calls;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod filesharing;
pub mod filetransfer;
pub mod health;
pub mod messaging;
pub mod metrics;
pub mod phones;
pub mod push;
pub mod relay;
pub mod rooms;
pub mod server;
pub mod storage;
pub mod tls;
pub mod tools;
pub mod uploads;
pub mod videoroom;
pub mod ws;
