//! What nodes say to each other over the bus: JSON messages on Redis channels, one channel
//! for account events that every node hears, and one channel per node for what is addressed
//! to it (the relay of room sessions).
//!
//! A message from the bus is input like any other: it is size-checked and parsed, and a
//! message that does not parse is dropped with a log line.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Largest bus message taken (a relayed request or event: SDPs are a few KB).
pub const MAX_MESSAGE: usize = 1 << 20;

/// The channel every node subscribes to: private events of accounts.
pub const ACCOUNTS: &str = "sylk:accounts";

/// The channel of what is addressed to node `node`.
pub fn node_channel(node: &str) -> String {
    format!("sylk:node:{node}")
}

/// The liveness record of node `node`: `live <epoch>` or `draining <epoch>`, with the
/// lease as expiry.
pub fn node_key(node: &str) -> String {
    format!("sylk:alive:{node}")
}

/// The base URL of node `node` (`https://HOST:PORT`), where its HTTP resources are.
pub fn url_key(node: &str) -> String {
    format!("sylk:url:{node}")
}

/// The presence record of node `node`: the accounts authenticated on its connections.
pub fn presence_key(node: &str) -> String {
    format!("sylk:presence:{node}")
}

/// The set of every node that has run (members whose liveness record expired are dead).
pub const NODES: &str = "sylk:nodes";

/// The placement record of room `uri`: the node holding it, with the lease as expiry.
pub fn room_key(uri: &str) -> String {
    format!("sylk:room:{uri}")
}

/// A link is one connection of one node relaying to another node. It is named by the
/// connection's node, that node's *epoch* (a random number drawn at each start, so that a
/// restarted node's connections never meet what its earlier run left behind) and the
/// connection's id there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Wire {
    /// On [`ACCOUNTS`]: a private event of `account` (a message, `sync`, a disposition, an
    /// invitation, an addressbook update); every other node delivers it to the connections
    /// where the account is authenticated.
    Account {
        from: String,
        account: String,
        text: String,
    },
    /// To a room's node: a request of connection `conn` of node `from`, for a room session
    /// held there. A join opens the relayed connection; `account` is the account the request
    /// acts for (added there before the request is handled).
    Request {
        from: String,
        epoch: u64,
        conn: u64,
        ip: IpAddr,
        text: String,
        account: Option<RelayedAccount>,
    },
    /// To a room's node: connection `conn` of node `from` closed.
    Close { from: String, epoch: u64, conn: u64 },
    /// To a node, about once a second: the connections of `from` that relay to it now. The
    /// node ends the relayed connections of `from` not named (their `Close` was lost) once
    /// they are a few seconds old.
    Links {
        from: String,
        epoch: u64,
        conns: Vec<u64>,
    },
    /// To a connection's node: an event for the client of connection `conn` (of that node's
    /// run `epoch`).
    Event { epoch: u64, conn: u64, text: String },
    /// To a connection's node: its relayed connection on node `from` ended (it failed, that
    /// node stops, or it has none): its room sessions there are over.
    Gone { from: String, epoch: u64, conn: u64 },
}

/// An account as a relayed connection needs it (the credentials are those the client gave,
/// used when the room calls out in its name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayedAccount {
    pub id: String,
    pub password: String,
    pub display_name: Option<String>,
    pub user_agent: Option<String>,
    /// Authenticated (registered) on the client's connection.
    pub authenticated: bool,
}

impl Wire {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message in `payload`, or `None` for one too large or malformed.
    pub fn decode(payload: &[u8]) -> Option<Wire> {
        if payload.len() > MAX_MESSAGE {
            return None;
        }
        serde_json::from_slice(payload).ok()
    }
}

/// A liveness record's state and epoch (`None`: not one).
pub fn parse_alive(record: &str) -> Option<(&str, u64)> {
    let (state, epoch) = record.split_once(' ')?;
    Some((state, epoch.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let all = [
            Wire::Account {
                from: "a".into(),
                account: "alice@example.com".into(),
                text: r#"{"sylkrtc":"account-event"}"#.into(),
            },
            Wire::Request {
                from: "b".into(),
                epoch: 3,
                conn: 7,
                ip: "127.0.0.1".parse().unwrap(),
                text: "{}".into(),
                account: Some(RelayedAccount {
                    id: "bob@example.com".into(),
                    password: "x".into(),
                    display_name: None,
                    user_agent: Some("ua".into()),
                    authenticated: true,
                }),
            },
            Wire::Close {
                from: "b".into(),
                epoch: 3,
                conn: 7,
            },
            Wire::Links {
                from: "b".into(),
                epoch: 3,
                conns: vec![7, 8],
            },
            Wire::Event {
                epoch: 3,
                conn: 7,
                text: "{}".into(),
            },
            Wire::Gone {
                from: "a".into(),
                epoch: 3,
                conn: 7,
            },
        ];
        for m in all {
            assert_eq!(Wire::decode(m.encode().as_bytes()), Some(m));
        }
    }

    #[test]
    fn liveness_records_name_state_and_epoch() {
        assert_eq!(parse_alive("live 42"), Some(("live", 42)));
        assert_eq!(
            parse_alive("draining 18446744073709551615"),
            Some(("draining", u64::MAX))
        );
        for bad in ["live", "live x", "", "live -1"] {
            assert_eq!(parse_alive(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_messages_are_refused() {
        for bad in [
            &b""[..],
            b"null",
            b"{\"t\":\"event\"}",
            b"{\"t\":\"event\",\"epoch\":1,\"conn\":-1,\"text\":\"\"}",
            b"{\"t\":\"nope\"}",
            b"{\"t\":\"close\",\"from\":\"a\",\"epoch\":1,\"conn\":1,\"extra\":1}",
            b"\xff\xfe",
        ] {
            assert_eq!(Wire::decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let huge = format!(
            r#"{{"t":"event","epoch":1,"conn":1,"text":"{}"}}"#,
            "x".repeat(MAX_MESSAGE)
        );
        assert_eq!(Wire::decode(huge.as_bytes()), None);
    }
}
