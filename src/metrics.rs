//! Prometheus metrics (`/metrics` on the admin listener).
//!
//! Two kinds:
//! * Events counted where they happen, through the `metrics` facade (SIP requests and
//!   responses, calls ended by outcome, registrations, pushes, refusals by limit, store
//!   latency). The names are in [`names`].
//! * State read when scraped (connections, accounts, rooms, participants, publishers,
//!   subscribers, calls, and the media engine's counters, which the shards keep themselves
//!   so that the forwarding path never touches a shared recorder).
//!
//! Labels only ever take values from small fixed sets (methods, status codes, outcomes),
//! never client-chosen text.

use std::sync::Arc;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::server::App;

/// Metric names, each in one place.
pub mod names {
    pub const CONNECTIONS: &str = "sylk_connections";
    pub const ACCOUNTS: &str = "sylk_accounts";
    pub const CALLS: &str = "sylk_calls";
    pub const CALLS_BY_STATE: &str = "sylk_calls_by_state";
    pub const CALLS_ENDED: &str = "sylk_calls_ended_total";
    pub const ROOMS: &str = "sylk_rooms";
    pub const PARTICIPANTS: &str = "sylk_room_participants";
    pub const SUBSCRIPTIONS: &str = "sylk_room_subscriptions";
    pub const REGISTRATIONS: &str = "sylk_registrations_total";
    pub const PUSHES: &str = "sylk_pushes_total";
    pub const REFUSALS: &str = "sylk_limit_refusals_total";
    pub const STORE_SECONDS: &str = "sylk_store_seconds";
    pub const MEDIA_PEERS: &str = "sylk_media_peers";
    pub const MEDIA_DATAGRAMS_IN: &str = "sylk_media_datagrams_in_total";
    pub const MEDIA_BYTES_IN: &str = "sylk_media_bytes_in_total";
    pub const MEDIA_DATAGRAMS_OUT: &str = "sylk_media_datagrams_out_total";
    pub const MEDIA_BYTES_OUT: &str = "sylk_media_bytes_out_total";
    pub const MEDIA_FORWARDED: &str = "sylk_media_rtp_forwarded_total";
    pub const MEDIA_DROPPED: &str = "sylk_media_datagrams_dropped_total";
    pub const MEDIA_REJECTED: &str = "sylk_media_datagrams_rejected_total";
    pub const MEDIA_NACKS: &str = "sylk_media_nacks_total";
    pub const MEDIA_RTX: &str = "sylk_media_retransmissions_total";
    pub const MEDIA_KEYFRAME_REQUESTS: &str = "sylk_media_keyframe_requests_total";
    pub const MEDIA_BUSY: &str = "sylk_media_shard_busy_microseconds_total";
}

/// Installs the process-wide recorder and describes every metric; the handle renders the
/// text format. Called once, when the server starts.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(names::STORE_SECONDS.into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ],
        )?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    use names::*;
    describe_gauge!(CONNECTIONS, "Live WebSocket connections");
    metrics::describe_counter!(
        crate::cluster::BUS_MESSAGES,
        "Cluster bus messages published, received, dropped (outbox full or Redis failing) and malformed"
    );
    describe_gauge!(ACCOUNTS, "Accounts added on live connections");
    describe_gauge!(CALLS, "Live 1:1 calls");
    describe_gauge!(
        CALLS_BY_STATE,
        "Live 1:1 calls by state (sylkRTC session states)"
    );
    describe_counter!(
        CALLS_ENDED,
        "1:1 calls ended, by direction and outcome (a SIP status, its class, other, or closed: \
         hung up because the client's connection closed)"
    );
    describe_gauge!(ROOMS, "Video rooms with at least one participant");
    describe_gauge!(PARTICIPANTS, "Room participants (publishers)");
    describe_gauge!(
        SUBSCRIPTIONS,
        "Feeds attached by room participants (subscribers)"
    );
    describe_counter!(REGISTRATIONS, "SIP registration results, by state");
    describe_counter!(PUSHES, "Push notifications, by result");
    describe_counter!(
        REFUSALS,
        "Requests, connections or datagrams refused by a limit, by limit"
    );
    describe_histogram!(STORE_SECONDS, Unit::Seconds, "Message store operations");
    describe_gauge!(
        MEDIA_PEERS,
        "WebRTC peers and plain legs in the media engine"
    );
    describe_counter!(MEDIA_DATAGRAMS_IN, "Datagrams received by the media engine");
    describe_counter!(
        MEDIA_BYTES_IN,
        Unit::Bytes,
        "Bytes received by the media engine"
    );
    describe_counter!(MEDIA_DATAGRAMS_OUT, "Datagrams sent by the media engine");
    describe_counter!(
        MEDIA_BYTES_OUT,
        Unit::Bytes,
        "Bytes sent by the media engine"
    );
    describe_counter!(
        MEDIA_FORWARDED,
        "RTP packets forwarded to subscribers or across a call"
    );
    describe_counter!(
        MEDIA_DROPPED,
        "Datagrams dropped (unknown source, unproved address, full socket)"
    );
    describe_counter!(
        MEDIA_REJECTED,
        "Datagrams refused by DTLS/SRTP (authentication failures, malformed)"
    );
    describe_counter!(
        MEDIA_NACKS,
        "Sequence numbers subscribers asked for again (NACK)"
    );
    describe_counter!(MEDIA_RTX, "Packets sent again over RTX");
    describe_counter!(
        MEDIA_KEYFRAME_REQUESTS,
        "Keyframe requests (PLI) sent to publishers"
    );
    describe_counter!(
        MEDIA_BUSY,
        Unit::Microseconds,
        "Time each media shard spent working (not waiting), by shard"
    );
}

/// The text format, with the state gauges and the media counters read now.
pub async fn render(app: &Arc<App>, handle: &PrometheusHandle) -> String {
    use names::*;
    let (connections, accounts) = app.access.counts();
    metrics::gauge!(CONNECTIONS).set(connections as f64);
    metrics::gauge!(ACCOUNTS).set(accounts as f64);
    metrics::gauge!(CALLS).set(app.live_calls() as f64);
    for (state, n) in crate::calls::STATES.iter().zip(app.calls_by_state()) {
        metrics::gauge!(CALLS_BY_STATE, "state" => *state).set(n as f64);
    }
    {
        let rooms = app.rooms();
        let (participants, subscriptions) = rooms.counts();
        metrics::gauge!(ROOMS).set(rooms.len() as f64);
        metrics::gauge!(PARTICIPANTS).set(participants as f64);
        metrics::gauge!(SUBSCRIPTIONS).set(subscriptions as f64);
    }
    if let Ok(Some(shards)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), app.engine.shard_stats()).await
    {
        let mut total = media::EngineStats::default();
        for (i, s) in shards.iter().enumerate() {
            metrics::counter!(MEDIA_BUSY, "shard" => i.to_string()).absolute(s.busy_us);
            total += *s;
        }
        metrics::gauge!(MEDIA_PEERS).set(total.peers as f64);
        for (name, value) in [
            (MEDIA_DATAGRAMS_IN, total.datagrams_in),
            (MEDIA_BYTES_IN, total.bytes_in),
            (MEDIA_DATAGRAMS_OUT, total.datagrams_out),
            (MEDIA_BYTES_OUT, total.bytes_out),
            (MEDIA_FORWARDED, total.rtp_forwarded),
            (MEDIA_DROPPED, total.datagrams_dropped),
            (MEDIA_REJECTED, total.datagrams_rejected),
            (MEDIA_NACKS, total.nacks),
            (MEDIA_RTX, total.retransmissions),
            (MEDIA_KEYFRAME_REQUESTS, total.keyframe_requests),
        ] {
            metrics::counter!(name).absolute(value);
        }
    }
    handle.render()
}

/// A call's outcome as a label: the SIP status of `reason` ("486 Busy Here" -> "486"), or
/// `other` (the text itself can come from the far end).
pub fn outcome(reason: &str) -> &'static str {
    const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];
    let code = reason
        .split_whitespace()
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..=699).contains(c));
    match code {
        Some(200) => "200",
        Some(408) => "408",
        Some(480) => "480",
        Some(486) => "486",
        Some(487) => "487",
        Some(488) => "488",
        Some(603) => "603",
        Some(c) => CLASSES[usize::from(c / 100) - 1],
        None => "other",
    }
}

/// Counts a refusal by `limit` (a fixed name).
pub fn refused(limit: &'static str) {
    metrics::counter!(names::REFUSALS, "limit" => limit).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_a_small_set() {
        assert_eq!(outcome("486 Busy Here"), "486");
        assert_eq!(outcome("200 to BYE"), "200");
        assert_eq!(outcome("499 Whatever"), "4xx");
        assert_eq!(outcome("Media timeout"), "other");
        assert_eq!(outcome("99999 x"), "other");
        assert_eq!(outcome("700 x"), "other");
    }
}
