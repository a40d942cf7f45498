//! A connection's room sessions held on other nodes: which of its requests go over the bus,
//! and to which node.
//!
//! A `videoroom-join` is placed first ([`super::Cluster::place`]); when its room is held
//! elsewhere, the session and every feed attached under it are relayed to that node from
//! then on, and the node's answers come back as events of this connection.

use std::collections::{HashMap, HashSet};

use signaling::sylkrtc::Request;

/// Room sessions and feeds one connection may have relayed at once.
pub const MAX_RELAYED_SESSIONS: usize = 1024;

#[derive(Debug, Default)]
pub struct Remote {
    /// The node holding each relayed room session or feed, by its id.
    sessions: HashMap<String, Relayed>,
    /// Nodes this connection has a relayed connection on.
    pub links: HashSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Relayed {
    node: String,
    /// The room session a feed is attached under; `None` for a room session.
    parent: Option<String>,
}

impl Remote {
    /// The node a request goes to, when it names a relayed session (not for joins: those are
    /// placed).
    pub fn node_of(&self, request: &Request) -> Option<&str> {
        let session = match request {
            Request::VideoroomLeave(r) => &r.session,
            Request::VideoroomConfigure(r) => &r.session,
            Request::VideoroomFeedAttach(r) => &r.session,
            Request::VideoroomFeedAnswer(r) => &r.session,
            Request::VideoroomFeedDetach(r) => &r.session,
            Request::VideoroomInvite(r) => &r.session,
            Request::VideoroomSessionTrickle(r) => &r.session,
            Request::VideoroomSessionUpdate(r) => &r.session,
            Request::VideoroomMessage(r) => &r.session,
            Request::VideoroomComposingIndication(r) => &r.session,
            Request::VideoroomMuteAudioParticipants(r) => &r.session,
            Request::VideoroomToggleHand(r) => &r.session,
            Request::VideoroomRemove(r) => &r.session,
            Request::VideoroomMuteParticipant(r) => &r.session,
            _ => return None,
        };
        self.sessions.get(session).map(|r| r.node.as_str())
    }

    /// Whether `session` is in use here as a relayed session or feed.
    pub fn contains(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    /// Records what a request relayed to `node` creates or ends; `false` when the
    /// connection has too many relayed sessions (the request is refused, not relayed).
    pub fn note(&mut self, request: &Request, node: &str) -> bool {
        let (id, parent) = match request {
            Request::VideoroomJoin(r) => (&r.session, None),
            Request::VideoroomFeedAttach(r) => (&r.feed, Some(r.session.clone())),
            Request::VideoroomLeave(r) => {
                self.sessions
                    .retain(|id, s| *id != r.session && s.parent.as_ref() != Some(&r.session));
                return true;
            }
            Request::VideoroomFeedDetach(r) => {
                self.sessions.remove(&r.feed);
                return true;
            }
            _ => return true,
        };
        if self.sessions.len() >= MAX_RELAYED_SESSIONS {
            return false;
        }
        self.sessions.insert(
            id.clone(),
            Relayed {
                node: node.to_string(),
                parent,
            },
        );
        self.links.insert(node.to_string());
        true
    }

    /// Forgets everything relayed to `node` (it is gone); returns the room sessions (not
    /// feeds) that ended with it.
    pub fn forget_node(&mut self, node: &str) -> Vec<String> {
        let mut ended: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.node == node && s.parent.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        ended.sort();
        self.sessions.retain(|_, s| s.node != node);
        self.links.remove(node);
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaling::sylkrtc::{parse, Parsed};

    fn request(json: &str) -> Request {
        match parse(json) {
            Parsed::Request(r) => r,
            other => panic!("{json}: {other:?}"),
        }
    }

    fn join(session: &str) -> Request {
        request(&format!(
            r#"{{"sylkrtc":"videoroom-join","transaction":"t","session":"{session}","account":"a@x.com","uri":"room@x.com","sdp":"v=0"}}"#
        ))
    }

    fn attach(session: &str, feed: &str) -> Request {
        request(&format!(
            r#"{{"sylkrtc":"videoroom-feed-attach","transaction":"t","session":"{session}","publisher":"p","feed":"{feed}"}}"#
        ))
    }

    fn leave(session: &str) -> Request {
        request(&format!(
            r#"{{"sylkrtc":"videoroom-leave","transaction":"t","session":"{session}"}}"#
        ))
    }

    fn trickle(session: &str) -> Request {
        request(&format!(
            r#"{{"sylkrtc":"videoroom-session-trickle","transaction":"t","session":"{session}","candidates":[]}}"#
        ))
    }

    #[test]
    fn sessions_and_their_feeds_follow_the_join() {
        let mut r = Remote::default();
        assert_eq!(r.node_of(&trickle("s1")), None);
        assert!(r.note(&join("s1"), "a"));
        assert_eq!(r.node_of(&trickle("s1")), Some("a"));
        assert!(r.note(&attach("s1", "f1"), "a"));
        assert_eq!(r.node_of(&trickle("f1")), Some("a"));
        assert!(r.note(&join("s2"), "b"));
        assert_eq!(r.links.len(), 2);
        // Leaving ends the session and its feeds.
        assert!(r.note(&leave("s1"), "a"));
        assert_eq!(r.node_of(&trickle("s1")), None);
        assert_eq!(r.node_of(&trickle("f1")), None);
        assert_eq!(r.node_of(&trickle("s2")), Some("b"));
        // A join and a ping are never routed by session.
        assert_eq!(r.node_of(&join("s2")), None);
    }

    #[test]
    fn a_gone_node_ends_its_room_sessions() {
        let mut r = Remote::default();
        r.note(&join("s1"), "a");
        r.note(&attach("s1", "f1"), "a");
        r.note(&join("s2"), "a");
        r.note(&join("s3"), "b");
        assert_eq!(r.forget_node("a"), ["s1", "s2"]);
        assert!(!r.contains("f1"));
        assert!(r.contains("s3"));
        assert!(!r.links.contains("a"));
    }

    #[test]
    fn relayed_sessions_are_bounded() {
        let mut r = Remote::default();
        for i in 0..MAX_RELAYED_SESSIONS {
            assert!(r.note(&join(&format!("s{i}")), "a"));
        }
        assert!(!r.note(&join("one-more"), "a"));
        assert!(!r.contains("one-more"));
    }
}
