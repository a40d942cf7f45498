//! Every message the server sends (§3 of the protocol document, plus Appendix A), and their
//! serialisation: unset optional properties are omitted, properties that the original emits
//! as `null` (`display_name`, `public_key`, `disposition_notification`, `disposition`) are
//! emitted as `null`, and non-ASCII characters are escaped as `\uXXXX` (Python's
//! `json.dumps` default).

use serde::Serialize;
use serde_json::{Map, Value};

use super::addressbook::{AddressBook, Contact, Group, Policy};

/// A party of a call, message or room: `uri` has no `sip:` prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub uri: String,
    pub display_name: Option<String>,
}

impl Identity {
    /// Builds an identity the way `SIPIdentity` validates one: the scheme is stripped and
    /// surrounding double quotes and spaces of the display name are removed.
    pub fn new(uri: &str, display_name: Option<&str>) -> Self {
        let uri = uri
            .strip_prefix("sip:")
            .or_else(|| uri.strip_prefix("sips:"))
            .unwrap_or(uri);
        let display_name =
            display_name.map(|d| d.trim_matches(|c| c == '"' || c == ' ').to_string());
        Identity {
            uri: uri.to_string(),
            display_name,
        }
    }
}

/// Everything the server sends on the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "sylkrtc")]
pub enum Event {
    #[serde(rename = "ack")]
    Ack {
        /// Echoed as received.
        transaction: Value,
    },
    #[serde(rename = "error")]
    Error { transaction: Value, error: String },
    #[serde(rename = "ready-event")]
    Ready,
    #[serde(rename = "lookup-public-key-event")]
    LookupPublicKey {
        uri: String,
        public_key: Option<String>,
    },
    #[serde(rename = "account-event")]
    Account {
        account: String,
        #[serde(flatten)]
        event: AccountEvent,
    },
    #[serde(rename = "session-event")]
    Session {
        session: String,
        #[serde(flatten)]
        event: SessionEvent,
    },
    #[serde(rename = "videoroom-event")]
    Videoroom {
        session: String,
        #[serde(flatten)]
        event: VideoroomEvent,
    },
}

impl Event {
    pub fn ack(transaction: impl Into<Value>) -> Self {
        Event::Ack {
            transaction: transaction.into(),
        }
    }

    pub fn error(transaction: impl Into<Value>, error: impl Into<String>) -> Self {
        Event::Error {
            transaction: transaction.into(),
            error: error.into(),
        }
    }

    pub fn account(account: impl Into<String>, event: AccountEvent) -> Self {
        Event::Account {
            account: account.into(),
            event,
        }
    }

    pub fn session(session: impl Into<String>, event: SessionEvent) -> Self {
        Event::Session {
            session: session.into(),
            event,
        }
    }

    pub fn videoroom(session: impl Into<String>, event: VideoroomEvent) -> Self {
        Event::Videoroom {
            session: session.into(),
            event,
        }
    }

    /// The JSON text of the event, ASCII only.
    pub fn to_json(&self) -> String {
        to_ascii_json(self)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state")]
pub enum RegistrationState {
    #[serde(rename = "registering")]
    Registering,
    #[serde(rename = "registered")]
    Registered,
    #[serde(rename = "failed")]
    Failed {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// States of a message disposition (`disposition-notification`).
pub const DISPOSITION_EVENT_STATES: &[&str] = &[
    "accepted",
    "delivered",
    "displayed",
    "failed",
    "processed",
    "stored",
    "forbidden",
    "error",
];

/// A journal entry (model `Message`): items of `sync-conversations` and of the history API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    pub contact: String,
    pub timestamp: String,
    pub disposition: Option<Vec<String>>,
    pub message_id: String,
    pub content_type: String,
    pub content: String,
    /// Stored records always have these, so an unset one is `null`.
    pub direction: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event")]
pub enum AccountEvent {
    #[serde(rename = "registration-state")]
    RegistrationState(RegistrationState),
    #[serde(rename = "incoming-session")]
    IncomingSession {
        session: String,
        originator: Identity,
        sdp: String,
        call_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        headers: Option<Map<String, Value>>,
    },
    #[serde(rename = "missed-session")]
    MissedSession { originator: Identity },
    #[serde(rename = "conference-invite")]
    ConferenceInvite {
        room: String,
        session_id: String,
        originator: Identity,
    },
    #[serde(rename = "message")]
    Message {
        sender: Identity,
        timestamp: String,
        disposition_notification: Option<Vec<String>>,
        message_id: String,
        content_type: String,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        direction: Option<String>,
    },
    #[serde(rename = "disposition-notification")]
    DispositionNotification {
        message_id: String,
        message_timestamp: String,
        state: String,
        code: i64,
        reason: String,
    },
    #[serde(rename = "sync-conversations")]
    SyncConversations { messages: Vec<JournalEntry> },
    #[serde(rename = "sync")]
    Sync {
        #[serde(rename = "type")]
        kind: String,
        action: String,
        content: Value,
    },
    #[serde(rename = "addressbook-fetched")]
    AddressbookFetched { addressbook: AddressBook },
    #[serde(rename = "addressbook-updated")]
    AddressbookUpdated {
        #[serde(rename = "type")]
        kind: String,
        action: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        contact: Option<Box<Contact>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        group: Option<Box<Group>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        policy: Option<Box<Policy>>,
    },
    #[serde(rename = "addressbook-update-failed")]
    AddressbookUpdateFailed {
        #[serde(rename = "type")]
        kind: String,
        action: String,
        error: String,
        id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state")]
pub enum CallState {
    #[serde(rename = "progress")]
    Progress,
    #[serde(rename = "proceeding")]
    Proceeding { code: i64 },
    #[serde(rename = "ringing")]
    Ringing,
    #[serde(rename = "early-media")]
    EarlyMedia {
        #[serde(skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
    },
    #[serde(rename = "accepted")]
    Accepted {
        #[serde(skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        headers: Option<Map<String, Value>>,
    },
    #[serde(rename = "established")]
    Established,
    #[serde(rename = "terminated")]
    Terminated {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UpdateState {
    #[serde(rename = "received")]
    Received,
    #[serde(rename = "accepted")]
    Accepted,
    #[serde(rename = "failed")]
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event")]
pub enum SessionEvent {
    #[serde(rename = "state")]
    State(CallState),
    #[serde(rename = "update")]
    Update {
        state: UpdateState,
        #[serde(skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "message")]
    Message {
        sender: Identity,
        timestamp: String,
        disposition_notification: Option<Vec<String>>,
        message_id: String,
        content_type: String,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        direction: Option<String>,
    },
    #[serde(rename = "disposition-notification")]
    DispositionNotification {
        message_id: String,
        message_timestamp: String,
        state: String,
        code: i64,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state")]
pub enum RoomSessionState {
    #[serde(rename = "progress")]
    Progress,
    #[serde(rename = "accepted")]
    Accepted {
        sdp: String,
        audio: bool,
        video: bool,
        /// Appendix A: seconds since the room was created.
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<i64>,
    },
    #[serde(rename = "established")]
    Established,
    #[serde(rename = "terminated")]
    Terminated {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Publisher {
    /// The publisher's session id.
    pub id: String,
    pub uri: String,
    /// `""` when the account has none.
    pub display_name: String,
    /// Appendix A: `webrtc`, `sip` or `bridge`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Appendix A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedFile {
    pub filename: String,
    pub filesize: i64,
    pub uploader: Identity,
    pub session: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChatMessageType {
    #[serde(rename = "normal")]
    Normal,
    #[serde(rename = "status")]
    Status,
}

/// Appendix A: an audio level sample of one participant (0-255).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioLevel {
    pub participant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_peak: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_peak: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event")]
pub enum VideoroomEvent {
    #[serde(rename = "session-state")]
    SessionState(RoomSessionState),
    #[serde(rename = "initial-publishers")]
    InitialPublishers { publishers: Vec<Publisher> },
    #[serde(rename = "publishers-joined")]
    PublishersJoined { publishers: Vec<Publisher> },
    #[serde(rename = "publishers-left")]
    PublishersLeft { publishers: Vec<String> },
    #[serde(rename = "feed-attached")]
    FeedAttached { feed: String, sdp: String },
    #[serde(rename = "feed-established")]
    FeedEstablished { feed: String },
    #[serde(rename = "configure")]
    Configure {
        originator: String,
        active_participants: Vec<String>,
    },
    #[serde(rename = "file-sharing")]
    FileSharing { files: Vec<SharedFile> },
    #[serde(rename = "message")]
    Message {
        #[serde(rename = "type")]
        kind: ChatMessageType,
        content: String,
        content_type: String,
        sender: Identity,
        timestamp: String,
    },
    #[serde(rename = "composing-indication")]
    ComposingIndication {
        state: String,
        refresh: i64,
        content_type: String,
        sender: Identity,
    },
    #[serde(rename = "message-delivery")]
    MessageDelivery {
        message_id: String,
        delivered: bool,
        code: i64,
        reason: String,
    },
    #[serde(rename = "mute-audio")]
    MuteAudio { originator: String },
    #[serde(rename = "raised-hands")]
    RaisedHands { raised_hands: Vec<String> },
    // Appendix A
    #[serde(rename = "conference-participants")]
    ConferenceParticipants {
        participants: Vec<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<i64>,
    },
    #[serde(rename = "conference-audio-levels")]
    ConferenceAudioLevels {
        levels: Vec<AudioLevel>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ts: Option<i64>,
    },
    #[serde(rename = "invite-status")]
    InviteStatus {
        participant: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "mute-request")]
    MuteRequest {
        muted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        originator: Option<String>,
    },
    #[serde(rename = "publisher-updated")]
    PublisherUpdated { publisher: String, muted: bool },
}

/// A `serde_json` formatter that escapes every non-ASCII character as `\uXXXX` (with
/// surrogate pairs above U+FFFF), like Python's `json.dumps(ensure_ascii=True)`.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serialises any value as ASCII-only JSON.
pub fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    match value.serialize(&mut ser) {
        // The formatter writes only ASCII, so the buffer is valid UTF-8.
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}
