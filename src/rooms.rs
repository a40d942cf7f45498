//! Video rooms shared by all connections: who is in which room, who attached whose feed,
//! active speakers, raised hands, the room chat and the shared files (§5.1). A room exists
//! while it has participants.
//!
//! Held behind one mutex in [`crate::server::App`]; every method is short and never awaits,
//! and events to other connections are handed to their outboxes without blocking.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use media::PeerId;
use signaling::sylkrtc::{Event, Identity, Publisher, SharedFile, VideoroomEvent};

use crate::connection::ConnHandle;

/// How many chat messages a room keeps for participants who join later.
const CHAT_HISTORY: usize = 100;

/// What a participant who is not active gets while others are (SylkServer's figure).
pub const OTHERS_BITRATE: u64 = 100_000;

/// The shares of `max` bits/s of participants who are active (`true`) or not, in order.
fn bitrate_shares(active: &[bool], max: u64) -> Vec<u64> {
    let actives = active.iter().filter(|a| **a).count() as u64;
    let everyone = (active.len() as u64).saturating_sub(1).max(1);
    active
        .iter()
        .map(|a| match (actives, a) {
            (0, _) => max / everyone,
            (n, true) => max / n,
            (_, false) => OTHERS_BITRATE.min(max),
        })
        .collect()
}

/// Who a participant is on the gateway's side.
pub enum Member {
    /// A browser's room session, on its WebSocket connection.
    Browser(ConnHandle),
    /// A SIP phone in the room ([`crate::phones`]): audio only, told nothing.
    Phone(crate::phones::PhoneHandle),
}

pub struct Participant {
    pub session: String,
    pub member: Member,
    pub account: String,
    pub display_name: Option<String>,
    pub peer: PeerId,
    /// Publisher sessions this participant attached a feed to.
    pub attached: HashSet<String>,
    /// Its microphone is silent (Appendix A `muted`, from the audio level it sends).
    pub muted: bool,
    /// When it last spoke ([`SPEAKING`] or louder): the active-speaker order.
    pub spoke: Option<Instant>,
}

/// A level (0-255) from which a participant counts as speaking.
pub const SPEAKING: u8 = 64;

impl Participant {
    pub fn publisher(&self) -> Publisher {
        Publisher {
            id: self.session.clone(),
            uri: self.account.clone(),
            display_name: self.display_name.clone().unwrap_or_default(),
            kind: Some(if self.is_phone() { "sip" } else { "webrtc" }.into()),
            muted: Some(self.muted),
        }
    }

    pub fn is_phone(&self) -> bool {
        matches!(self.member, Member::Phone(_))
    }

    pub fn identity(&self) -> Identity {
        Identity::new(&self.account, self.display_name.as_deref())
    }

    fn send(&self, event: VideoroomEvent) {
        if let Member::Browser(conn) = &self.member {
            conn.deliver(Event::videoroom(self.session.clone(), event).to_json());
        }
    }
}

/// The media engine's name for room `uri`'s audio mix (the same for every join of it).
pub fn mix_id(uri: &str) -> media::MixId {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    uri.hash(&mut h);
    media::MixId(h.finish())
}

pub struct Room {
    /// Tells this room apart from a later room with the same URI (after this one emptied).
    pub id: u64,
    pub uri: String,
    pub created: Instant,
    pub audio: bool,
    pub video: bool,
    /// In join order.
    pub participants: Vec<Participant>,
    pub active: Vec<String>,
    pub hands: Vec<String>,
    pub chat: VecDeque<VideoroomEvent>,
    /// Files shared over HTTP, in upload order (stored in `<filesharing_dir>/<uri>/`).
    pub files: Vec<SharedFile>,
}

impl Room {
    /// The participants, who spoke last first (the active-speaker order), then those who
    /// have not spoken in join order.
    pub fn by_speaking(&self) -> impl Iterator<Item = &Participant> {
        let mut order: Vec<&Participant> = self.participants.iter().collect();
        // Stable: equal keys (never spoke) keep the join order.
        order.sort_by_key(|p| std::cmp::Reverse(p.spoke));
        order.into_iter()
    }

    pub fn get(&self, session: &str) -> Option<&Participant> {
        self.participants.iter().find(|p| p.session == session)
    }

    fn get_mut(&mut self, session: &str) -> Option<&mut Participant> {
        self.participants.iter_mut().find(|p| p.session == session)
    }

    /// Sends `event` to every participant (the requester included) or to all but `except`.
    pub fn broadcast(&self, event: &VideoroomEvent, except: Option<&str>) {
        for p in &self.participants {
            if Some(p.session.as_str()) != except {
                p.send(event.clone());
            }
        }
    }
}

/// What a joiner learns about the room it joined.
pub struct Joined {
    pub audio: bool,
    pub video: bool,
    pub publishers: Vec<Publisher>,
    pub active: Vec<String>,
    pub hands: Vec<String>,
    pub chat: Vec<VideoroomEvent>,
    pub files: Vec<SharedFile>,
    pub duration: i64,
    /// This join made the room.
    pub created: bool,
}

/// What [`Rooms::leave`] did.
pub struct Left {
    pub participant: Participant,
    /// The room, if this was its last participant and it is gone now.
    pub destroyed: Option<Room>,
}

/// Why a room session could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinRefused {
    /// The session id is used by another room session of the gateway (any connection's).
    InUse,
    /// The room has `max` participants already (counting joins under way).
    Full { max: usize },
}

#[derive(Default)]
pub struct Rooms {
    rooms: HashMap<String, Room>,
    last_id: u64,
    /// Every publisher session id of the gateway (joined, or reserved while its join is under
    /// way), with its room: ids are unique across connections, so one connection can never
    /// name (and so leave, or be taken for) another's session.
    sessions: HashMap<String, String>,
    /// The media shard of each room with a participant or a join under way: every peer of a
    /// room is on it (its router forwards between them without crossing threads).
    placement: HashMap<String, media::ShardId>,
}

impl Rooms {
    pub fn room(&self, uri: &str) -> Option<&Room> {
        self.rooms.get(uri)
    }

    pub fn room_mut(&mut self, uri: &str) -> Option<&mut Room> {
        self.rooms.get_mut(uri)
    }

    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Participants of every room, and the feeds they attached.
    pub fn counts(&self) -> (usize, usize) {
        self.rooms.values().fold((0, 0), |(p, s), room| {
            let feeds: usize = room.participants.iter().map(|x| x.attached.len()).sum();
            (p + room.participants.len(), s + feeds)
        })
    }

    /// A publisher's audio level changed (0-255): every participant of its room gets
    /// `conference-audio-levels` (Appendix A), with the level as `rx` and `rx_peak` (what the
    /// gateway receives from that participant; clients read `rx_peak`).
    pub fn audio_level(&mut self, uri: &str, session: &str, level: u8) {
        let Some(room) = self.rooms.get_mut(uri) else {
            return;
        };
        if level >= SPEAKING {
            if let Some(p) = room.participants.iter_mut().find(|p| p.session == session) {
                p.spoke = Some(Instant::now());
            }
        }
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let event = VideoroomEvent::ConferenceAudioLevels {
            levels: vec![signaling::sylkrtc::AudioLevel {
                participant_id: session.to_string(),
                tx: None,
                rx: Some(i64::from(level)),
                tx_peak: None,
                rx_peak: Some(i64::from(level)),
            }],
            ts: Some(ts),
        };
        room.broadcast(&event, None);
    }

    /// Every room, in URI order.
    pub fn all(&self) -> Vec<&Room> {
        let mut all: Vec<&Room> = self.rooms.values().collect();
        all.sort_by(|a, b| a.uri.cmp(&b.uri));
        all
    }

    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Takes `session` for a join of room `uri` (before its media is set up), if the id is free
    /// and the room has room for one more; returns the room's media shard (chosen by `place`
    /// for a room that has none yet).
    pub fn reserve(
        &mut self,
        session: &str,
        uri: &str,
        max: usize,
        place: impl FnOnce() -> media::ShardId,
    ) -> Result<media::ShardId, JoinRefused> {
        if self.sessions.contains_key(session) {
            return Err(JoinRefused::InUse);
        }
        let joining = self.sessions.values().filter(|r| *r == uri).count();
        // `joining` counts the room's participants too (each is in `sessions`).
        if joining >= max {
            return Err(JoinRefused::Full { max });
        }
        self.sessions.insert(session.to_string(), uri.to_string());
        let shard = *self.placement.entry(uri.to_string()).or_insert_with(place);
        Ok(shard)
    }

    /// Forgets the shard of a room nobody is in or joining.
    fn unplace(&mut self, uri: &str) {
        if !self.sessions.values().any(|r| r == uri) {
            self.placement.remove(uri);
        }
    }

    /// Gives back a reservation whose join failed.
    pub fn unreserve(&mut self, session: &str) {
        let joined = self
            .sessions
            .get(session)
            .and_then(|uri| self.rooms.get(uri))
            .is_some_and(|room| room.get(session).is_some());
        if !joined {
            if let Some(uri) = self.sessions.remove(session) {
                self.unplace(&uri);
            }
        }
    }

    /// Adds a publisher (reserved with [`Rooms::reserve`]), creating the room if needed; the
    /// others get `publishers-joined`.
    pub fn join(&mut self, uri: &str, audio: bool, video: bool, p: Participant) -> Joined {
        let next_id = self.last_id + 1;
        let room = self.rooms.entry(uri.to_string()).or_insert_with(|| {
            tracing::info!(room = uri, "room created");
            Room {
                id: next_id,
                uri: uri.to_string(),
                created: Instant::now(),
                audio,
                video,
                participants: Vec::new(),
                active: Vec::new(),
                hands: Vec::new(),
                chat: VecDeque::new(),
                files: Vec::new(),
            }
        });
        if room.id == next_id {
            self.last_id = next_id;
        }
        let joined = Joined {
            audio: room.audio,
            video: room.video,
            publishers: room.by_speaking().map(Participant::publisher).collect(),
            active: room.active.clone(),
            hands: room.hands.clone(),
            chat: room.chat.iter().cloned().collect(),
            files: room.files.clone(),
            duration: room.created.elapsed().as_secs() as i64,
            created: room.id == next_id,
        };
        let announce = VideoroomEvent::PublishersJoined {
            publishers: vec![p.publisher()],
        };
        room.broadcast(&announce, None);
        tracing::info!(room = uri, account = %p.account, session = %p.session, "joined the room");
        room.participants.push(p);
        joined
    }

    /// Removes a publisher; those who attached its feed get `publishers-left`, everyone gets
    /// `configure` if it was an active participant. The room goes when it is empty (its shared
    /// files are then the caller's to delete).
    pub fn leave(&mut self, uri: &str, session: &str) -> Option<Left> {
        let room = self.rooms.get_mut(uri)?;
        let at = room
            .participants
            .iter()
            .position(|p| p.session == session)?;
        let gone = room.participants.remove(at);
        self.sessions.remove(session);
        tracing::info!(room = uri, account = %gone.account, session, "left the room");
        for p in &mut room.participants {
            if p.attached.remove(session) {
                p.send(VideoroomEvent::PublishersLeft {
                    publishers: vec![session.to_string()],
                });
            }
        }
        room.hands.retain(|h| h != session);
        if room.active.iter().any(|a| a == session) {
            room.active.retain(|a| a != session);
            let event = VideoroomEvent::Configure {
                originator: "videoroom".into(),
                active_participants: room.active.clone(),
            };
            room.broadcast(&event, None);
        }
        let destroyed = if room.participants.is_empty() {
            tracing::info!(room = uri, "room destroyed");
            self.rooms.remove(uri)
        } else {
            None
        };
        self.unplace(uri);
        Some(Left {
            participant: gone,
            destroyed,
        })
    }

    /// Adds an uploaded file to room `id` (not to a later room of the same URI); every room
    /// session gets `file-sharing` with it. False if that room is gone.
    /// The files a persistent room kept, listed again (no event: the joiner is told with the
    /// rest of its join).
    pub fn restore_files(&mut self, uri: &str, files: Vec<SharedFile>) {
        if let Some(room) = self.rooms.get_mut(uri) {
            room.files.extend(files);
        }
    }

    pub fn add_file(&mut self, uri: &str, id: u64, file: SharedFile) -> bool {
        let Some(room) = self.rooms.get_mut(uri).filter(|r| r.id == id) else {
            return false;
        };
        let event = VideoroomEvent::FileSharing {
            files: vec![file.clone()],
        };
        room.files.push(file);
        room.broadcast(&event, None);
        true
    }

    /// Records that `session` attached a feed of `publisher`; the publisher's peer if it is
    /// in the room.
    pub fn attach(&mut self, uri: &str, session: &str, publisher: &str) -> Option<PeerId> {
        let room = self.rooms.get_mut(uri)?;
        let peer = room.get(publisher)?.peer;
        room.get_mut(session)?
            .attached
            .insert(publisher.to_string());
        Some(peer)
    }

    pub fn detach(&mut self, uri: &str, session: &str, publisher: &str) {
        if let Some(p) = self.rooms.get_mut(uri).and_then(|r| r.get_mut(session)) {
            p.attached.remove(publisher);
        }
    }

    /// Each publisher's share of `max` bits/s, as SylkServer's `_update_bitrate`: with
    /// active participants, `max / active` for each of them and [`OTHERS_BITRATE`] for the
    /// others; else `max / (participants - 1)` for everyone (a lone participant gets `max`).
    pub fn bitrates(&self, uri: &str, max: u64) -> Vec<(PeerId, u64)> {
        let Some(room) = self.room(uri) else {
            return Vec::new();
        };
        let active: Vec<bool> = room
            .participants
            .iter()
            .map(|p| room.active.contains(&p.session))
            .collect();
        room.participants
            .iter()
            .zip(bitrate_shares(&active, max))
            .map(|(p, share)| (p.peer, share))
            .collect()
    }

    /// A participant's microphone went silent or was heard again: its `muted`, and
    /// `publisher-updated` (Appendix A) to the others.
    pub fn set_muted(&mut self, uri: &str, session: &str, muted: bool) {
        let Some(room) = self.rooms.get_mut(uri) else {
            return;
        };
        let Some(p) = room.participants.iter_mut().find(|p| p.session == session) else {
            return;
        };
        if p.muted == muted {
            return;
        }
        p.muted = muted;
        tracing::info!(room = uri, %session, muted, "participant's microphone");
        room.broadcast(
            &VideoroomEvent::PublisherUpdated {
                publisher: session.to_string(),
                muted,
            },
            Some(session),
        );
    }

    /// Sends `event` to the participant `session` of room `uri`, if it is there (and a
    /// browser).
    pub fn tell(&self, uri: &str, session: &str, event: VideoroomEvent) {
        if let Some(p) = self.rooms.get(uri).and_then(|r| r.get(session)) {
            p.send(event);
        }
    }

    /// Sets the active participants; every room session gets `configure`.
    pub fn configure(
        &mut self,
        uri: &str,
        session: &str,
        active: Vec<String>,
    ) -> Result<(), String> {
        let room = self.rooms.get_mut(uri).ok_or("no such room")?;
        let unknown: Vec<&str> = active
            .iter()
            .filter(|a| room.get(a).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown participant session id: {}",
                unknown.join(", ")
            ));
        }
        room.active = active;
        let event = VideoroomEvent::Configure {
            originator: session.to_string(),
            active_participants: room.active.clone(),
        };
        room.broadcast(&event, None);
        Ok(())
    }

    /// Toggles `target`'s raised hand; every room session gets `raised-hands`.
    pub fn toggle_hand(&mut self, uri: &str, target: &str) {
        let Some(room) = self.rooms.get_mut(uri) else {
            return;
        };
        if let Some(at) = room.hands.iter().position(|h| h == target) {
            room.hands.remove(at);
        } else {
            room.hands.push(target.to_string());
        }
        let event = VideoroomEvent::RaisedHands {
            raised_hands: room.hands.clone(),
        };
        room.broadcast(&event, None);
    }

    /// A chat message: the others get it, and it is kept for later joiners.
    pub fn chat(&mut self, uri: &str, sender: &str, event: VideoroomEvent) {
        let Some(room) = self.rooms.get_mut(uri) else {
            return;
        };
        room.broadcast(&event, Some(sender));
        room.chat.push_back(event);
        while room.chat.len() > CHAT_HISTORY {
            room.chat.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Outbound;
    use media::ShardId;
    use tokio::sync::mpsc;

    /// A participant whose connection's events go to the returned receiver.
    fn participant(name: &str, peer: u64) -> (Participant, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(64);
        let (orders, _) = mpsc::channel(1);
        let conn = ConnHandle::new(peer, [127, 0, 0, 1].into(), tx, orders);
        let p = Participant {
            session: name.to_string(),
            member: Member::Browser(conn),
            account: format!("{name}@example.com"),
            display_name: None,
            peer: PeerId(peer),
            attached: HashSet::new(),
            muted: false,
            spoke: None,
        };
        (p, rx)
    }

    fn texts(rx: &mut mpsc::Receiver<Outbound>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Outbound::Text(t)) = rx.try_recv() {
            out.push(t);
        }
        out
    }

    #[test]
    fn joiners_see_the_last_speakers_first_and_mutes_are_announced() {
        let room = "r@example.com";
        let mut rooms = Rooms::default();
        let mut inboxes = Vec::new();
        for (i, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
            let (p, rx) = participant(name, i as u64 + 1);
            rooms.reserve(name, room, 10, ShardId::default).unwrap();
            rooms.join(room, true, true, p);
            inboxes.push(rx);
        }
        // carol, then bob speak; a whisper (below SPEAKING) does not count.
        rooms.audio_level(room, "carol", 200);
        std::thread::sleep(std::time::Duration::from_millis(2));
        rooms.audio_level(room, "bob", 120);
        rooms.audio_level(room, "alice", SPEAKING - 1);
        let (dave, _rx) = participant("dave", 4);
        rooms.reserve("dave", room, 10, ShardId::default).unwrap();
        let joined = rooms.join(room, true, true, dave);
        let order: Vec<&str> = joined.publishers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["bob", "carol", "alice"]);
        assert!(joined
            .publishers
            .iter()
            .all(|p| p.kind.as_deref() == Some("webrtc") && p.muted == Some(false)));
        // bob's microphone goes silent: the others are told, once; bob is not.
        for rx in &mut inboxes {
            texts(rx);
        }
        rooms.set_muted(room, "bob", true);
        rooms.set_muted(room, "bob", true);
        let alice = texts(&mut inboxes[0]);
        assert_eq!(alice.len(), 1, "{alice:?}");
        assert!(
            alice[0].contains(r#""event":"publisher-updated","publisher":"bob","muted":true"#),
            "{alice:?}"
        );
        assert!(texts(&mut inboxes[1]).is_empty());
        assert_eq!(
            rooms.room(room).unwrap().get("bob").map(|p| p.muted),
            Some(true)
        );
    }

    #[test]
    fn the_room_cap_is_shared_as_sylkserver_shares_it() {
        // Nobody active: max / (participants - 1); alone, the whole cap.
        assert_eq!(bitrate_shares(&[false], 900_000), [900_000]);
        assert_eq!(bitrate_shares(&[false; 2], 900_000), [900_000; 2]);
        assert_eq!(bitrate_shares(&[false; 4], 900_000), [300_000; 4]);
        // Active ones split the cap, the others get 100 kbit/s (or the cap, if lower).
        assert_eq!(
            bitrate_shares(&[true, false, true, false], 900_000),
            [450_000, 100_000, 450_000, 100_000]
        );
        assert_eq!(bitrate_shares(&[true, false], 64_000), [64_000, 64_000]);
    }
}
