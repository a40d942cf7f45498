//! Every request of sylkRTC-2 (§2 of the protocol document) and the optional ones of its
//! Appendix A, as typed values, each with the validation model of its SylkServer class.
//!
//! One table below defines both the Rust struct and its model, in the class's property
//! order (`transaction` first, then the base class's `account` or `session`, then the
//! class's own properties): the order decides which error a message with several faults gets.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::addressbook::Entry;
use super::schema::*;

/// The account password (normally the HA1). Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

pub static HEADER: Model = Model {
    name: "Header",
    props: &[string("name"), string("value")],
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(rename = "sdpMLineIndex")]
    pub sdp_m_line_index: i64,
    #[serde(rename = "sdpMid")]
    pub sdp_mid: String,
}

pub static ICE_CANDIDATE: Model = Model {
    name: "ICECandidate",
    props: &[string("candidate"), int("sdpMLineIndex"), string("sdpMid")],
};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoroomSessionOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<i64>,
}

pub static VIDEOROOM_SESSION_OPTIONS: Model = Model {
    name: "VideoroomSessionOptions",
    props: &[
        opt_boolean("audio"),
        opt_boolean("video"),
        opt_int("bitrate"),
    ],
};

const fn active_participants(name: &'static str) -> Prop {
    Prop::new(
        name,
        Ty::List(ListOf::Strings {
            aor: false,
            unique: true,
            max_len: Some(2),
        }),
        false,
    )
}

const fn prefixes(name: &'static str) -> Prop {
    unique_strings(name, true)
}

pub const DISPOSITION_STATES: &[&str] = &["delivered", "failed", "displayed", "forbidden", "error"];
pub const COMPOSING_STATES: &[&str] = &["active", "idle"];
pub const ADDRESSBOOK_ACTIONS: &[&str] = &["add", "update", "delete"];
pub const ADDRESSBOOK_TYPES: &[&str] = &["contact", "group", "policy"];

macro_rules! requests {
    ($(
        $(#[$meta:meta])*
        $variant:ident($strukt:ident, $wire:literal) {
            $( $(#[$fmeta:meta])* $field:ident : $fty:ty = $ctor:ident $(($($arg:expr),*))? ),* $(,)?
        }
    )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            pub struct $strukt {
                pub transaction: String,
                $( $(#[$fmeta])* pub $field: $fty, )*
            }

            impl $strukt {
                pub const MODEL: Model = Model {
                    name: stringify!($strukt),
                    props: &[string("transaction"), $( $ctor(stringify!($field) $(, $($arg),*)?) ),*],
                };
            }
        )*

        /// A valid request, ready for its handler.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $( $variant($strukt), )*
            AccountUpdateAddressbook(Box<AccountUpdateAddressBookRequest>),
        }

        impl Request {
            /// The wire name (`sylkrtc` value).
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Request::$variant(_) => $wire, )*
                    Request::AccountUpdateAddressbook(_) => "account-update-addressbook",
                }
            }

            pub fn transaction(&self) -> &str {
                match self {
                    $( Request::$variant(r) => &r.transaction, )*
                    Request::AccountUpdateAddressbook(r) => &r.transaction,
                }
            }
        }

        /// Every request type this module knows, by wire name.
        pub const REQUEST_TYPES: &[&str] = &[$( $wire, )* "account-update-addressbook"];

        /// Validates `message` as the request `wire` names. `None`: unknown request type.
        pub(crate) fn build(wire: &str, message: &Map<String, Value>) -> Option<Result<Request, String>> {
            match wire {
                $( $wire => Some(validate(&$strukt::MODEL, message).and_then(|m| {
                    from_map::<$strukt>(m).map(Request::$variant)
                })), )*
                "account-update-addressbook" => Some(AccountUpdateAddressBookRequest::build(message)),
                _ => None,
            }
        }
    };
}

fn from_map<T: serde::de::DeserializeOwned>(m: Map<String, Value>) -> Result<T, String> {
    // The map was validated against the model generated from the same table as `T`.
    serde_json::from_value(Value::Object(m)).map_err(|_| "Internal error".to_string())
}

requests! {
    // §2.1 Connection-level
    Ping(PingRequest, "ping") {}
    LookupPublicKey(LookupPublicKeyRequest, "lookup-public-key") { uri: String = aor }

    // §2.2 Account requests
    AccountAdd(AccountAddRequest, "account-add") {
        account: String = aor,
        password: Secret = length(1, 9999),
        display_name: Option<String> = opt_string,
        user_agent: Option<String> = opt_string,
        incoming_header_prefixes: Option<Vec<String>> = prefixes,
        /// Appendix A (graceful-restart resume); accepted and ignored.
        previous_session_token: Option<String> = opt_string,
    }
    AccountRemove(AccountRemoveRequest, "account-remove") { account: String = aor }
    AccountRegister(AccountRegisterRequest, "account-register") { account: String = aor }
    AccountUnregister(AccountUnregisterRequest, "account-unregister") { account: String = aor }
    AccountDeviceToken(AccountDeviceTokenRequest, "account-devicetoken") {
        account: String = aor,
        token: String = string,
        platform: String = string,
        device: String = string,
        silent: bool = boolean,
        app: String = string,
    }
    AccountMessage(AccountMessageRequest, "account-message") {
        account: String = aor,
        uri: String = aor,
        message_id: String = string,
        content: String = string,
        content_type: String = string,
        timestamp: String = string,
        server_generated: Option<bool> = opt_boolean,
    }
    AccountDispositionNotification(AccountDispositionNotificationRequest, "account-disposition-notification") {
        account: String = aor,
        uri: String = aor,
        message_id: String = string,
        state: String = choice(DISPOSITION_STATES),
        timestamp: String = string,
    }
    AccountSyncConversations(AccountSyncConversationsRequest, "account-sync-conversations") {
        account: String = aor,
        message_id: Option<String> = opt_string,
        since: Option<String> = opt_string,
        limit: Option<i64> = opt_int,
    }
    AccountMarkConversationRead(AccountMarkConversationReadRequest, "account-mark-conversation-read") {
        account: String = aor,
        contact: String = aor,
    }
    AccountRemoveMessage(AccountMessageRemoveRequest, "account-remove-message") {
        account: String = aor,
        message_id: String = string,
        contact: String = aor,
    }
    AccountRemoveConversation(AccountConversationRemoveRequest, "account-remove-conversation") {
        account: String = aor,
        contact: String = aor,
    }
    AccountFetchAddressbook(AccountFetchAddressbookRequest, "account-fetch-addressbook") {
        account: String = aor,
    }

    // §2.3 Session (1:1 call) requests
    SessionCreate(SessionCreateRequest, "session-create") {
        session: String = string,
        account: String = aor,
        uri: String = aor,
        sdp: String = string,
        headers: Option<Vec<Header>> = opt_objects(&HEADER),
    }
    SessionAnswer(SessionAnswerRequest, "session-answer") {
        session: String = string,
        sdp: String = string,
        headers: Option<Vec<Header>> = opt_objects(&HEADER),
    }
    SessionTrickle(SessionTrickleRequest, "session-trickle") {
        session: String = string,
        candidates: Vec<IceCandidate> = objects(&ICE_CANDIDATE),
    }
    SessionTerminate(SessionTerminateRequest, "session-terminate") { session: String = string }
    SessionUpdate(SessionUpdateRequest, "session-update") {
        session: String = string,
        sdp: String = string,
        headers: Option<Vec<Header>> = opt_objects(&HEADER),
    }
    SessionMessage(SessionMessageRequest, "session-message") {
        session: String = string,
        message_id: String = string,
        content: String = string,
        content_type: String = string,
        timestamp: String = string,
    }
    SessionDtmfInfo(SessionDtmfInfoRequest, "session-dtmf-info") {
        session: String = string,
        digit: String = string,
        duration: Option<i64> = opt_int,
    }

    // §2.4 Videoroom requests
    VideoroomJoin(VideoroomJoinRequest, "videoroom-join") {
        session: String = string,
        account: String = aor,
        uri: String = aor,
        sdp: String = string,
        audio: Option<bool> = opt_boolean,
        video: Option<bool> = opt_boolean,
    }
    VideoroomLeave(VideoroomLeaveRequest, "videoroom-leave") { session: String = string }
    VideoroomConfigure(VideoroomConfigureRequest, "videoroom-configure") {
        session: String = string,
        active_participants: Vec<String> = active_participants,
    }
    VideoroomFeedAttach(VideoroomFeedAttachRequest, "videoroom-feed-attach") {
        session: String = string,
        publisher: String = string,
        feed: String = string,
    }
    VideoroomFeedAnswer(VideoroomFeedAnswerRequest, "videoroom-feed-answer") {
        session: String = string,
        feed: String = string,
        sdp: String = string,
    }
    VideoroomFeedDetach(VideoroomFeedDetachRequest, "videoroom-feed-detach") {
        session: String = string,
        feed: String = string,
    }
    VideoroomInvite(VideoroomInviteRequest, "videoroom-invite") {
        session: String = string,
        participants: Vec<String> = aor_list,
    }
    VideoroomSessionTrickle(VideoroomSessionTrickleRequest, "videoroom-session-trickle") {
        session: String = string,
        candidates: Vec<IceCandidate> = objects(&ICE_CANDIDATE),
    }
    VideoroomSessionUpdate(VideoroomSessionUpdateRequest, "videoroom-session-update") {
        session: String = string,
        options: VideoroomSessionOptions = object(&VIDEOROOM_SESSION_OPTIONS),
    }
    VideoroomMessage(VideoroomMessageRequest, "videoroom-message") {
        session: String = string,
        message_id: String = string,
        content: String = string,
        content_type: String = string,
    }
    VideoroomComposingIndication(VideoroomComposingIndicationRequest, "videoroom-composing-indication") {
        session: String = string,
        state: String = choice(COMPOSING_STATES),
        refresh: Option<i64> = opt_int,
    }
    VideoroomMuteAudioParticipants(VideoroomMuteAudioParticipantsRequest, "videoroom-mute-audio-participants") {
        session: String = string,
    }
    VideoroomToggleHand(VideoroomToggleHandRequest, "videoroom-toggle-hand") {
        session: String = string,
        session_id: Option<String> = opt_string,
    }

    // Appendix A (optional extended variant)
    VideoroomRemove(VideoroomRemoveRequest, "videoroom-remove") {
        session: String = string,
        participants: Vec<String> = aor_list,
    }
    VideoroomMuteParticipant(VideoroomMuteParticipantRequest, "videoroom-mute-participant") {
        session: String = string,
        participant_id: String = string,
        muted: bool = boolean,
    }
}

/// `account-update-addressbook`: its `data` is turned into a Contact, Group or Policy
/// before the request is validated (so those errors come first, then the request's).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountUpdateAddressBookRequest {
    pub transaction: String,
    pub account: String,
    /// `add`, `update` or `delete`.
    pub action: String,
    /// `contact`, `group` or `policy`.
    pub kind: String,
    pub data: Entry,
}

impl AccountUpdateAddressBookRequest {
    pub const MODEL: Model = Model {
        name: "AccountUpdateAddressBookRequest",
        props: &[
            string("transaction"),
            aor("account"),
            choice("action", ADDRESSBOOK_ACTIONS),
            choice("type", ADDRESSBOOK_TYPES),
        ],
    };

    fn build(message: &Map<String, Value>) -> Result<Request, String> {
        // Python evaluates kwargs["data"] before kwargs["type"]: KeyError texts are the key repr.
        let data = message.get("data").ok_or("'data'")?;
        let kind = message.get("type").ok_or("'type'")?;
        let entry = super::addressbook::entry_from_payload(data, kind)?;
        let m = validate(&Self::MODEL, message)?;
        let text = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(Request::AccountUpdateAddressbook(Box::new(Self {
            transaction: text("transaction"),
            account: text("account"),
            action: text("action"),
            kind: text("type"),
            data: entry,
        })))
    }
}

/// The SylkServer class name of a request type (used in the mandatory-property errors).
pub fn class_name(wire: &str) -> Option<&'static str> {
    macro_rules! names {
        ($($wire:literal => $class:ty),* $(,)?) => {
            match wire { $( $wire => Some(<$class>::MODEL.name), )* _ => None }
        };
    }
    names! {
        "ping" => PingRequest,
        "lookup-public-key" => LookupPublicKeyRequest,
        "account-add" => AccountAddRequest,
        "account-remove" => AccountRemoveRequest,
        "account-register" => AccountRegisterRequest,
        "account-unregister" => AccountUnregisterRequest,
        "account-devicetoken" => AccountDeviceTokenRequest,
        "account-message" => AccountMessageRequest,
        "account-disposition-notification" => AccountDispositionNotificationRequest,
        "account-sync-conversations" => AccountSyncConversationsRequest,
        "account-mark-conversation-read" => AccountMarkConversationReadRequest,
        "account-remove-message" => AccountMessageRemoveRequest,
        "account-remove-conversation" => AccountConversationRemoveRequest,
        "account-fetch-addressbook" => AccountFetchAddressbookRequest,
        "account-update-addressbook" => AccountUpdateAddressBookRequest,
        "session-create" => SessionCreateRequest,
        "session-answer" => SessionAnswerRequest,
        "session-trickle" => SessionTrickleRequest,
        "session-terminate" => SessionTerminateRequest,
        "session-update" => SessionUpdateRequest,
        "session-message" => SessionMessageRequest,
        "session-dtmf-info" => SessionDtmfInfoRequest,
        "videoroom-join" => VideoroomJoinRequest,
        "videoroom-leave" => VideoroomLeaveRequest,
        "videoroom-configure" => VideoroomConfigureRequest,
        "videoroom-feed-attach" => VideoroomFeedAttachRequest,
        "videoroom-feed-answer" => VideoroomFeedAnswerRequest,
        "videoroom-feed-detach" => VideoroomFeedDetachRequest,
        "videoroom-invite" => VideoroomInviteRequest,
        "videoroom-session-trickle" => VideoroomSessionTrickleRequest,
        "videoroom-session-update" => VideoroomSessionUpdateRequest,
        "videoroom-message" => VideoroomMessageRequest,
        "videoroom-composing-indication" => VideoroomComposingIndicationRequest,
        "videoroom-mute-audio-participants" => VideoroomMuteAudioParticipantsRequest,
        "videoroom-toggle-hand" => VideoroomToggleHandRequest,
        "videoroom-remove" => VideoroomRemoveRequest,
        "videoroom-mute-participant" => VideoroomMuteParticipantRequest,
    }
}
