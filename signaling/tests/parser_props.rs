//! Property tests of `signaling::sylkrtc::parse`: it never panics, and every frame ends in
//! exactly one of the three outcomes of §1.4 (request / rejected with the raw transaction
//! echoed / ignored), whatever the input.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Number, Value};
use signaling::sylkrtc::{parse, parse_value, Ignored, Parsed, Request};

/// §2.5 plus Appendix A.
const TYPES: &[&str] = &[
    "ping",
    "lookup-public-key",
    "account-add",
    "account-remove",
    "account-register",
    "account-unregister",
    "account-devicetoken",
    "account-message",
    "account-disposition-notification",
    "account-sync-conversations",
    "account-mark-conversation-read",
    "account-remove-message",
    "account-remove-conversation",
    "account-fetch-addressbook",
    "account-update-addressbook",
    "session-create",
    "session-answer",
    "session-trickle",
    "session-terminate",
    "session-update",
    "session-message",
    "session-dtmf-info",
    "videoroom-join",
    "videoroom-leave",
    "videoroom-configure",
    "videoroom-feed-attach",
    "videoroom-feed-answer",
    "videoroom-feed-detach",
    "videoroom-invite",
    "videoroom-session-trickle",
    "videoroom-session-update",
    "videoroom-message",
    "videoroom-composing-indication",
    "videoroom-mute-audio-participants",
    "videoroom-toggle-hand",
    "videoroom-remove",
    "videoroom-mute-participant",
];

/// Property names of the requests and of their nested objects.
const KEYS: &[&str] = &[
    "sylkrtc",
    "transaction",
    "account",
    "session",
    "password",
    "display_name",
    "user_agent",
    "incoming_header_prefixes",
    "previous_session_token",
    "uri",
    "token",
    "platform",
    "device",
    "silent",
    "app",
    "message_id",
    "content",
    "content_type",
    "timestamp",
    "server_generated",
    "state",
    "since",
    "limit",
    "contact",
    "action",
    "type",
    "data",
    "id",
    "name",
    "uris",
    "dialog",
    "presence",
    "policy",
    "subscribe",
    "attributes",
    "defaultUri",
    "default_uri",
    "contacts",
    "groups",
    "policies",
    "sdp",
    "headers",
    "value",
    "candidates",
    "candidate",
    "sdpMLineIndex",
    "sdpMid",
    "usernameFragment",
    "digit",
    "duration",
    "audio",
    "video",
    "bitrate",
    "active_participants",
    "publisher",
    "feed",
    "participants",
    "options",
    "refresh",
    "session_id",
    "participant_id",
    "muted",
    "default",
];

/// Strings that exercise the validators.
const STRINGS: &[&str] = &[
    "",
    "t1",
    "alice@example.com",
    "sip:alice@example.com",
    "sips:bob@example.com",
    "example.com",
    "alice@",
    "a b",
    "tel:+123",
    "contact",
    "group",
    "policy",
    "groupMember",
    "add",
    "update",
    "delete",
    "active",
    "idle",
    "delivered",
    "displayed",
    "failed",
    "forbidden",
    "error",
    "ping",
    "v=0\r\n",
    "café",
    "😀",
    "it's",
    "\"q\"",
    "\u{0}",
    "X-Sylk",
];

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn leaf(random_strings: bool) -> BoxedStrategy<Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        Just(json!(1.0)),
        Just(json!(0.5)),
    ];
    let pooled = proptest::sample::select(STRINGS).prop_map(|s| json!(s));
    let keyish = proptest::sample::select(KEYS).prop_map(|s| json!(s));
    let kinds = proptest::sample::select(TYPES).prop_map(|s| json!(s));
    if random_strings {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            pooled,
            keyish,
            kinds,
            any::<String>().prop_map(Value::String),
            "[a-z@:.;= ]{0,12}".prop_map(Value::String),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            pooled,
            keyish,
        ]
        .boxed()
    }
}

/// Arbitrary JSON, with object keys drawn mostly from the real property names.
fn json_value(random_strings: bool) -> BoxedStrategy<Value> {
    leaf(random_strings)
        .prop_recursive(3, 24, 6, |inner| {
            let key = prop_oneof![
                4 => proptest::sample::select(KEYS).prop_map(String::from),
                1 => "[a-z_]{0,6}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key, inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A valid message of every type (the same shapes as the unit tests' fixtures).
fn fixtures() -> Vec<Value> {
    let cands = json!([{"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
                        "sdpMLineIndex": 0, "sdpMid": "0", "usernameFragment": "u"}]);
    let contact = json!({"id": "c1", "name": "Bob",
                         "uris": [{"id": "u1", "uri": "bob@example.com"}],
                         "dialog": {"policy": "default", "subscribe": false},
                         "presence": {"policy": "default", "subscribe": false}});
    let a = "sip:alice@example.com";
    let fields = [
        ("ping", json!({})),
        ("lookup-public-key", json!({"uri": "bob@example.com"})),
        (
            "account-add",
            json!({"account": a, "password": "b1726872c344b6dc8365b774f8fd6412",
                   "display_name": "Alice", "user_agent": "SylkRTC",
                   "incoming_header_prefixes": ["X-Sylk", "X-Sylk"]}),
        ),
        ("account-remove", json!({"account": a})),
        ("account-register", json!({"account": a})),
        ("account-unregister", json!({"account": a})),
        (
            "account-devicetoken",
            json!({"account": a, "token": "t", "platform": "ios", "device": "d",
                   "silent": true, "app": "x"}),
        ),
        (
            "account-message",
            json!({"account": a, "uri": "sips:bob@example.com", "message_id": "m1",
                   "content": "héllo 😀", "content_type": "text/plain",
                   "timestamp": "2026-07-17T08:41:52.123Z"}),
        ),
        (
            "account-disposition-notification",
            json!({"account": a, "uri": "bob@example.com", "message_id": "m1",
                   "state": "displayed", "timestamp": "2026-07-17T08:41:52.123Z"}),
        ),
        (
            "account-sync-conversations",
            json!({"account": a, "message_id": null, "limit": 10}),
        ),
        (
            "account-mark-conversation-read",
            json!({"account": a, "contact": "bob@example.com"}),
        ),
        (
            "account-remove-message",
            json!({"account": a, "message_id": "m1", "contact": "bob@example.com"}),
        ),
        (
            "account-remove-conversation",
            json!({"account": a, "contact": "bob@example.com"}),
        ),
        ("account-fetch-addressbook", json!({"account": a})),
        (
            "account-update-addressbook",
            json!({"account": a, "action": "add", "type": "contact", "data": contact}),
        ),
        (
            "session-create",
            json!({"session": "s1", "account": a, "uri": "bob@example.com", "sdp": "v=0\r\n",
                   "headers": [{"name": "X-A", "value": "b"}]}),
        ),
        ("session-answer", json!({"session": "s1", "sdp": "v=0\r\n"})),
        (
            "session-trickle",
            json!({"session": "s1", "candidates": cands.clone()}),
        ),
        ("session-terminate", json!({"session": "s1"})),
        ("session-update", json!({"session": "s1", "sdp": "v=0\r\n"})),
        (
            "session-message",
            json!({"session": "s1", "message_id": "m", "content": "c",
                   "content_type": "text/plain", "timestamp": "x"}),
        ),
        (
            "session-dtmf-info",
            json!({"session": "s1", "digit": "1", "duration": 100}),
        ),
        (
            "videoroom-join",
            json!({"session": "r1", "account": a, "uri": "room1@videoconference.example.com",
                   "sdp": "v=0\r\n", "audio": true, "video": false}),
        ),
        ("videoroom-leave", json!({"session": "r1"})),
        (
            "videoroom-configure",
            json!({"session": "r1", "active_participants": ["p1", "p2", "p1"]}),
        ),
        (
            "videoroom-feed-attach",
            json!({"session": "r1", "publisher": "p1", "feed": "f1"}),
        ),
        (
            "videoroom-feed-answer",
            json!({"session": "r1", "feed": "f1", "sdp": "v=0\r\n"}),
        ),
        (
            "videoroom-feed-detach",
            json!({"session": "r1", "feed": "f1"}),
        ),
        (
            "videoroom-invite",
            json!({"session": "r1", "participants": ["bob@example.com", "sip:bob@example.com"]}),
        ),
        (
            "videoroom-session-trickle",
            json!({"session": "f1", "candidates": cands}),
        ),
        (
            "videoroom-session-update",
            json!({"session": "f1", "options": {"video": false, "bitrate": 100000}}),
        ),
        (
            "videoroom-message",
            json!({"session": "r1", "message_id": "m", "content": "c",
                   "content_type": "text/plain"}),
        ),
        (
            "videoroom-composing-indication",
            json!({"session": "r1", "state": "active", "refresh": 60}),
        ),
        (
            "videoroom-mute-audio-participants",
            json!({"session": "r1"}),
        ),
        (
            "videoroom-toggle-hand",
            json!({"session": "r1", "session_id": "p1"}),
        ),
        (
            "videoroom-remove",
            json!({"session": "r1", "participants": ["bob@example.com"]}),
        ),
        (
            "videoroom-mute-participant",
            json!({"session": "r1", "participant_id": "p1", "muted": true}),
        ),
    ];
    fields
        .into_iter()
        .map(|(kind, f)| {
            let mut m = Map::new();
            m.insert("sylkrtc".into(), json!(kind));
            m.insert("transaction".into(), json!("t1"));
            m.extend(f.as_object().unwrap().clone());
            Value::Object(m)
        })
        .collect()
}

fn fixture() -> impl Strategy<Value = Value> {
    proptest::sample::select(fixtures())
}

/// The text of a message and the message as the server receives it (serde_json's float parsing
/// does not always round-trip the last digit, so the "raw" transaction is the re-parsed one).
fn wire(m: Map<String, Value>) -> (String, Map<String, Value>) {
    let text = Value::Object(m).to_string();
    let received: Map<String, Value> = serde_json::from_str(&text).unwrap();
    (text, received)
}

/// The invariants of §1.4 for a JSON object whose `sylkrtc` is a known request type.
fn check_outcome(message: &Map<String, Value>, parsed: &Parsed) -> Result<(), TestCaseError> {
    let kind = message["sylkrtc"].as_str().unwrap();
    match parsed {
        Parsed::Request(r) => {
            prop_assert_eq!(r.kind(), kind);
            prop_assert_eq!(Some(r.transaction()), message["transaction"].as_str());
        }
        Parsed::Rejected {
            transaction,
            kind: k,
            error,
        } => {
            prop_assert_eq!(Some(transaction), message.get("transaction"));
            prop_assert_eq!(k.as_str(), kind);
            prop_assert!(!error.is_empty());
        }
        Parsed::Ignored(Ignored::NoTransaction { kind: k, error }) => {
            prop_assert!(!message.contains_key("transaction"));
            prop_assert_eq!(k.as_str(), kind);
            prop_assert!(!error.is_empty());
        }
        Parsed::Ignored(other) => {
            prop_assert!(false, "known type ignored: {:?}", other);
        }
    }
    Ok(())
}

/// The typed request's fields as JSON, for the types whose structs are serialisable.
fn reserialize(r: &Request) -> Option<Value> {
    macro_rules! ser {
        ($($v:ident),* $(,)?) => {
            match r {
                $( Request::$v(x) => serde_json::to_value(x).ok(), )*
                _ => None,
            }
        };
    }
    ser!(
        Ping,
        LookupPublicKey,
        AccountAdd,
        AccountRemove,
        AccountRegister,
        AccountUnregister,
        AccountDeviceToken,
        AccountMessage,
        AccountDispositionNotification,
        AccountSyncConversations,
        AccountMarkConversationRead,
        AccountRemoveMessage,
        AccountRemoveConversation,
        AccountFetchAddressbook,
        SessionCreate,
        SessionAnswer,
        SessionTrickle,
        SessionTerminate,
        SessionUpdate,
        SessionMessage,
        SessionDtmfInfo,
        VideoroomJoin,
        VideoroomLeave,
        VideoroomConfigure,
        VideoroomFeedAttach,
        VideoroomFeedAnswer,
        VideoroomFeedDetach,
        VideoroomInvite,
        VideoroomSessionTrickle,
        VideoroomSessionUpdate,
        VideoroomMessage,
        VideoroomComposingIndication,
        VideoroomMuteAudioParticipants,
        VideoroomToggleHand,
        VideoroomRemove,
        VideoroomMuteParticipant,
    )
}

/// Re-serialising an accepted request and parsing it again gives the same request.
fn check_stable(parsed: &Parsed) -> Result<(), TestCaseError> {
    let Parsed::Request(r) = parsed else {
        return Ok(());
    };
    let Some(Value::Object(mut m)) = reserialize(r) else {
        return Ok(());
    };
    m.insert("sylkrtc".into(), json!(r.kind()));
    let again = parse(&Value::Object(m.clone()).to_string());
    prop_assert_eq!(&again, parsed, "re-serialised: {}", Value::Object(m));
    Ok(())
}

#[test]
fn fixtures_are_valid_and_stable() {
    let fx = fixtures();
    assert_eq!(fx.len(), TYPES.len());
    for (f, kind) in fx.iter().zip(TYPES) {
        let parsed = parse(&f.to_string());
        match &parsed {
            Parsed::Request(r) => assert_eq!(r.kind(), *kind),
            other => panic!("{f}: {other:?}"),
        }
        check_stable(&parsed).unwrap();
    }
}

proptest! {
    #![proptest_config(config())]

    /// (1) Arbitrary text never panics.
    #[test]
    fn any_text_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    /// (1) JSON-looking token soup never panics.
    #[test]
    fn token_soup_never_panics(parts in proptest::collection::vec(proptest::sample::select(&[
        "{", "}", "[", "]", ",", ":", "\"", "\"sylkrtc\"", "\"transaction\"", "\"ping\"",
        "\"account-add\"", "\"session-trickle\"", "\"candidates\"", "1", "-1.5e3", "1e400",
        "null", "true", "false", "\"\\u00e9\"", "\"\\ud83d\"", "\"\\ud83d\\ude00\"", "\\",
        " ", "\n", "18446744073709551616", "\"a b\"", "\"sip:alice@\"",
    ][..]), 0..24)) {
        let text: String = parts.concat();
        let _ = parse(&text);
    }

    /// (2) Arbitrary JSON objects with a real request type: one of the three outcomes, and a
    /// rejection echoes the raw transaction.
    #[test]
    fn arbitrary_objects_of_every_type(
        kind in proptest::sample::select(TYPES),
        body in proptest::collection::vec(
            (proptest::sample::select(KEYS), json_value(true)), 0..10),
        transaction in proptest::option::of(json_value(true)),
    ) {
        let mut m: Map<String, Value> = body
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        m.insert("sylkrtc".into(), json!(kind));
        m.remove("transaction");
        if let Some(t) = transaction {
            m.insert("transaction".into(), t);
        }
        let (text, m) = wire(m);
        let parsed = parse(&text);
        check_outcome(&m, &parsed)?;
        prop_assert_eq!(&parse_value(&Value::Object(m.clone())), &parsed);
    }

    /// (2) Arbitrary JSON values at the top level: never panics; objects without a known
    /// `sylkrtc` are ignored.
    #[test]
    fn arbitrary_values_never_panic(v in json_value(true)) {
        let text = v.to_string();
        let parsed = parse(&text);
        let v: Value = serde_json::from_str(&text).unwrap();
        match &v {
            Value::Object(m) => {
                let known = m.get("sylkrtc").and_then(Value::as_str)
                    .is_some_and(|k| TYPES.contains(&k));
                if known {
                    check_outcome(m, &parsed)?;
                } else {
                    prop_assert!(matches!(
                        parsed,
                        Parsed::Ignored(Ignored::MissingType | Ignored::UnknownType(_))
                    ), "{:?}", parsed);
                }
            }
            _ => prop_assert_eq!(parsed, Parsed::Ignored(Ignored::NotAnObject)),
        }
    }

    /// (3) A valid message with one key deleted.
    #[test]
    fn valid_message_with_a_key_deleted(f in fixture(), index in any::<proptest::sample::Index>()) {
        let mut m = f.as_object().unwrap().clone();
        let key = m.keys().nth(index.index(m.len())).unwrap().clone();
        m.shift_remove(&key);
        let (text, m) = wire(m);
        let parsed = parse(&text);
        match key.as_str() {
            "sylkrtc" => prop_assert_eq!(parsed, Parsed::Ignored(Ignored::MissingType)),
            "transaction" => prop_assert!(
                matches!(&parsed, Parsed::Ignored(Ignored::NoTransaction { error, .. })
                    if error.starts_with("Mandatory property 'transaction' of '")),
                "{:?}", parsed
            ),
            _ => {
                check_outcome(&m, &parsed)?;
                if let Parsed::Rejected { error, .. } = &parsed {
                    prop_assert!(
                        error.contains(&format!("'{key}'")),
                        "error {:?} does not name {:?}", error, key
                    );
                }
            }
        }
    }

    /// (3) A valid message with one value (possibly nested) replaced by random JSON.
    #[test]
    fn valid_message_with_a_value_replaced(
        f in fixture(),
        index in any::<proptest::sample::Index>(),
        deep in any::<proptest::sample::Index>(),
        value in json_value(true),
    ) {
        let mut m = f.as_object().unwrap().clone();
        let key = m.keys().nth(index.index(m.len())).unwrap().clone();
        // Replace either the value itself or something inside it.
        let slot = m.get_mut(&key).unwrap();
        let target = match slot {
            Value::Object(inner) if !inner.is_empty() => {
                let k = inner.keys().nth(deep.index(inner.len())).unwrap().clone();
                inner.get_mut(&k).unwrap()
            }
            Value::Array(items) if !items.is_empty() => {
                let n = items.len();
                &mut items[deep.index(n)]
            }
            other => other,
        };
        *target = value;
        let (text, m) = wire(m);
        let parsed = parse(&text);
        if key == "sylkrtc" {
            let known = m["sylkrtc"].as_str().is_some_and(|k| TYPES.contains(&k));
            if !known {
                prop_assert!(matches!(parsed, Parsed::Ignored(Ignored::UnknownType(_))));
                return Ok(());
            }
        }
        check_outcome(&m, &parsed)?;
    }

    /// (3) A valid message truncated at any byte: a strict prefix of an object is never valid
    /// JSON, so it is ignored.
    #[test]
    fn valid_message_truncated(f in fixture(), index in any::<proptest::sample::Index>()) {
        let text = f.to_string();
        let mut n = index.index(text.len());
        while !text.is_char_boundary(n) {
            n -= 1;
        }
        let parsed = parse(&text[..n]);
        prop_assert!(
            matches!(parsed, Parsed::Ignored(Ignored::InvalidJson(_))),
            "{:?} -> {:?}", &text[..n], parsed
        );
        // The raw bytes cut mid-character are not a str at all; the lossy version must not
        // panic either.
        let lossy = String::from_utf8_lossy(&text.as_bytes()[..index.index(text.len())]);
        let _ = parse(&lossy);
    }

    /// (4) Accepted messages built from pooled values re-serialise stably (AOR normalisation,
    /// de-duplication and the bool-as-int quirk are idempotent on them).
    #[test]
    fn accepted_requests_reserialise_stably(
        f in fixture(),
        edits in proptest::collection::vec(
            (proptest::sample::select(KEYS), json_value(false)), 0..3),
    ) {
        let mut m = f.as_object().unwrap().clone();
        for (k, v) in edits {
            if k != "sylkrtc" && k != "transaction" {
                m.insert(k.to_string(), v);
            }
        }
        let (text, m) = wire(m);
        let parsed = parse(&text);
        check_outcome(&m, &parsed)?;
        check_stable(&parsed)?;
    }
}
