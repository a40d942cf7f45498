//! Request parsing against the contract (`shared/protocol/sylkrtc.md` §0, §1.4, §1.5, §2,
//! Appendix A): one accepted and several rejected messages per request type, with the exact
//! error texts, plus the "no reply" cases and the order in which faults are reported.

use serde_json::{json, Map, Value};

use super::addressbook::Entry;
use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn req(v: Value) -> Parsed {
    parse(&v.to_string())
}

/// A request message: `{"sylkrtc": kind, "transaction": "t1", ...fields}`.
fn msg(kind: &str, fields: Value) -> Value {
    let mut m = Map::new();
    m.insert("sylkrtc".into(), json!(kind));
    m.insert("transaction".into(), json!("t1"));
    if let Value::Object(f) = fields {
        for (k, v) in f {
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    for k in keys {
        v.as_object_mut().unwrap().remove(*k);
    }
    v
}

/// The request a valid message parses to.
fn ok(v: Value) -> Request {
    match req(v.clone()) {
        Parsed::Request(r) => r,
        other => panic!("expected {v} to be accepted, got {other:?}"),
    }
}

/// The error text of a rejected message; also checks that the raw transaction and the
/// request type are echoed.
fn err(v: Value) -> String {
    match req(v.clone()) {
        Parsed::Rejected {
            transaction,
            kind,
            error,
        } => {
            assert_eq!(
                Some(&transaction),
                v.get("transaction"),
                "transaction not echoed raw for {v}"
            );
            assert_eq!(Some(kind.as_str()), v["sylkrtc"].as_str(), "kind for {v}");
            error
        }
        other => panic!("expected {v} to be rejected, got {other:?}"),
    }
}

macro_rules! expect {
    ($v:expr, $variant:ident) => {{
        let v: Value = $v;
        match req(v.clone()) {
            Parsed::Request(Request::$variant(r)) => r,
            other => panic!(
                "expected {} to parse as {}, got {other:?}",
                v,
                stringify!($variant)
            ),
        }
    }};
}

fn missing(field: &str, class: &str) -> String {
    format!("Mandatory property '{field}' of '{class}' object is missing")
}

const DISPOSITION_EXPECTED: &str = "(expected: delivered, displayed, error, failed or forbidden)";
const COMPOSING_EXPECTED: &str = "(expected: active or idle)";
const ACTION_EXPECTED: &str = "(expected: add, delete or update)";
const TYPE_EXPECTED: &str = "(expected: contact, group or policy)";

const ALICE: &str = "alice@example.com";
const HA1: &str = "b1726872c344b6dc8365b774f8fd6412";
const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";
const CAND: &str = "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host";

// ---------------------------------------------------------------------------------------------
// The table of every request type: a valid message, its class name (§1.5), its mandatory
// properties in class order (§2 tables: transaction, then account/session, then the class's
// own fields) and its optional properties.
// ---------------------------------------------------------------------------------------------

struct Case {
    wire: &'static str,
    class: &'static str,
    fields: Value,
    mandatory: &'static [&'static str],
    optional: &'static [&'static str],
}

impl Case {
    fn valid(&self) -> Value {
        msg(self.wire, self.fields.clone())
    }
}

fn cands() -> Value {
    json!([{"candidate": CAND, "sdpMLineIndex": 0, "sdpMid": "0"}])
}

fn cases() -> Vec<Case> {
    let c = |wire, class, fields, mandatory, optional| Case {
        wire,
        class,
        fields,
        mandatory,
        optional,
    };
    vec![
        c("ping", "PingRequest", json!({}), &["transaction"], &[]),
        c(
            "lookup-public-key",
            "LookupPublicKeyRequest",
            json!({"uri": "sip:bob@example.com"}),
            &["transaction", "uri"],
            &[],
        ),
        c(
            "account-add",
            "AccountAddRequest",
            json!({"account": ALICE, "password": HA1, "display_name": "Alice",
                   "user_agent": "SylkRTC (Chrome 156.0.0.0 on Linux)",
                   "incoming_header_prefixes": ["X-Sylk"]}),
            &["transaction", "account", "password"],
            &["display_name", "user_agent", "incoming_header_prefixes"],
        ),
        c(
            "account-remove",
            "AccountRemoveRequest",
            json!({"account": ALICE}),
            &["transaction", "account"],
            &[],
        ),
        c(
            "account-register",
            "AccountRegisterRequest",
            json!({"account": ALICE}),
            &["transaction", "account"],
            &[],
        ),
        c(
            "account-unregister",
            "AccountUnregisterRequest",
            json!({"account": ALICE}),
            &["transaction", "account"],
            &[],
        ),
        c(
            "account-devicetoken",
            "AccountDeviceTokenRequest",
            json!({"account": ALICE, "token": "voip-apns", "platform": "ios",
                   "device": "dev1", "silent": false, "app": "com.agprojects.sylk"}),
            &[
                "transaction",
                "account",
                "token",
                "platform",
                "device",
                "silent",
                "app",
            ],
            &[],
        ),
        c(
            "account-message",
            "AccountMessageRequest",
            json!({"account": ALICE, "uri": "bob@example.com", "message_id": "6f1c",
                   "content": "hello", "content_type": "text/plain",
                   "timestamp": "2026-07-17T08:41:52.123Z", "server_generated": false}),
            &[
                "transaction",
                "account",
                "uri",
                "message_id",
                "content",
                "content_type",
                "timestamp",
            ],
            &["server_generated"],
        ),
        c(
            "account-disposition-notification",
            "AccountDispositionNotificationRequest",
            json!({"account": ALICE, "uri": "bob@example.com", "message_id": "6f1c",
                   "state": "delivered", "timestamp": "2026-07-17T08:41:52.123Z"}),
            &[
                "transaction",
                "account",
                "uri",
                "message_id",
                "state",
                "timestamp",
            ],
            &[],
        ),
        c(
            "account-sync-conversations",
            "AccountSyncConversationsRequest",
            json!({"account": ALICE, "message_id": "6f1c", "since": "2026-07-17T08:41:52Z",
                   "limit": 100}),
            &["transaction", "account"],
            &["message_id", "since", "limit"],
        ),
        c(
            "account-mark-conversation-read",
            "AccountMarkConversationReadRequest",
            json!({"account": ALICE, "contact": "bob@example.com"}),
            &["transaction", "account", "contact"],
            &[],
        ),
        c(
            "account-remove-message",
            "AccountMessageRemoveRequest",
            json!({"account": ALICE, "message_id": "6f1c", "contact": "bob@example.com"}),
            &["transaction", "account", "message_id", "contact"],
            &[],
        ),
        c(
            "account-remove-conversation",
            "AccountConversationRemoveRequest",
            json!({"account": ALICE, "contact": "bob@example.com"}),
            &["transaction", "account", "contact"],
            &[],
        ),
        c(
            "account-fetch-addressbook",
            "AccountFetchAddressbookRequest",
            json!({"account": ALICE}),
            &["transaction", "account"],
            &[],
        ),
        c(
            "session-create",
            "SessionCreateRequest",
            json!({"session": "5e7a", "account": ALICE, "uri": "bob@example.com", "sdp": SDP,
                   "headers": [{"name": "X-Foo", "value": "bar"}]}),
            &["transaction", "session", "account", "uri", "sdp"],
            &["headers"],
        ),
        c(
            "session-answer",
            "SessionAnswerRequest",
            json!({"session": "5e7a", "sdp": SDP, "headers": [{"name": "X-Foo", "value": "bar"}]}),
            &["transaction", "session", "sdp"],
            &["headers"],
        ),
        c(
            "session-trickle",
            "SessionTrickleRequest",
            json!({"session": "5e7a", "candidates": cands()}),
            &["transaction", "session", "candidates"],
            &[],
        ),
        c(
            "session-terminate",
            "SessionTerminateRequest",
            json!({"session": "5e7a"}),
            &["transaction", "session"],
            &[],
        ),
        c(
            "session-update",
            "SessionUpdateRequest",
            json!({"session": "5e7a", "sdp": SDP, "headers": [{"name": "X-Foo", "value": "bar"}]}),
            &["transaction", "session", "sdp"],
            &["headers"],
        ),
        c(
            "session-message",
            "SessionMessageRequest",
            json!({"session": "5e7a", "message_id": "1b2c", "content": "hi",
                   "content_type": "text/plain", "timestamp": "2026-07-17T08:41:52.123Z"}),
            &[
                "transaction",
                "session",
                "message_id",
                "content",
                "content_type",
                "timestamp",
            ],
            &[],
        ),
        c(
            "session-dtmf-info",
            "SessionDtmfInfoRequest",
            json!({"session": "5e7a", "digit": "123#", "duration": 100}),
            &["transaction", "session", "digit"],
            &["duration"],
        ),
        c(
            "videoroom-join",
            "VideoroomJoinRequest",
            json!({"session": "a1b2", "account": ALICE,
                   "uri": "room1@videoconference.example.com", "sdp": SDP,
                   "audio": true, "video": false}),
            &["transaction", "session", "account", "uri", "sdp"],
            &["audio", "video"],
        ),
        c(
            "videoroom-leave",
            "VideoroomLeaveRequest",
            json!({"session": "a1b2"}),
            &["transaction", "session"],
            &[],
        ),
        c(
            "videoroom-configure",
            "VideoroomConfigureRequest",
            json!({"session": "a1b2", "active_participants": ["c3d4"]}),
            &["transaction", "session", "active_participants"],
            &[],
        ),
        c(
            "videoroom-feed-attach",
            "VideoroomFeedAttachRequest",
            json!({"session": "a1b2", "publisher": "c3d4", "feed": "9f8e"}),
            &["transaction", "session", "publisher", "feed"],
            &[],
        ),
        c(
            "videoroom-feed-answer",
            "VideoroomFeedAnswerRequest",
            json!({"session": "a1b2", "feed": "9f8e", "sdp": SDP}),
            &["transaction", "session", "feed", "sdp"],
            &[],
        ),
        c(
            "videoroom-feed-detach",
            "VideoroomFeedDetachRequest",
            json!({"session": "a1b2", "feed": "9f8e"}),
            &["transaction", "session", "feed"],
            &[],
        ),
        c(
            "videoroom-invite",
            "VideoroomInviteRequest",
            json!({"session": "a1b2", "participants": ["bob@example.com"]}),
            &["transaction", "session", "participants"],
            &[],
        ),
        c(
            "videoroom-session-trickle",
            "VideoroomSessionTrickleRequest",
            json!({"session": "9f8e", "candidates": cands()}),
            &["transaction", "session", "candidates"],
            &[],
        ),
        c(
            "videoroom-session-update",
            "VideoroomSessionUpdateRequest",
            json!({"session": "9f8e", "options": {"video": false}}),
            &["transaction", "session", "options"],
            &[],
        ),
        c(
            "videoroom-message",
            "VideoroomMessageRequest",
            json!({"session": "a1b2", "message_id": "77aa", "content": "hi all",
                   "content_type": "text/plain"}),
            &[
                "transaction",
                "session",
                "message_id",
                "content",
                "content_type",
            ],
            &[],
        ),
        c(
            "videoroom-composing-indication",
            "VideoroomComposingIndicationRequest",
            json!({"session": "a1b2", "state": "active", "refresh": 60}),
            &["transaction", "session", "state"],
            &["refresh"],
        ),
        c(
            "videoroom-mute-audio-participants",
            "VideoroomMuteAudioParticipantsRequest",
            json!({"session": "a1b2"}),
            &["transaction", "session"],
            &[],
        ),
        c(
            "videoroom-toggle-hand",
            "VideoroomToggleHandRequest",
            json!({"session": "a1b2", "session_id": "c3d4"}),
            &["transaction", "session"],
            &["session_id"],
        ),
        // Appendix A
        c(
            "videoroom-remove",
            "VideoroomRemoveRequest",
            json!({"session": "a1b2", "participants": ["bob@example.com"]}),
            &["transaction", "session", "participants"],
            &[],
        ),
        c(
            "videoroom-mute-participant",
            "VideoroomMuteParticipantRequest",
            json!({"session": "a1b2", "participant_id": "p1", "muted": true}),
            &["transaction", "session", "participant_id", "muted"],
            &[],
        ),
    ]
}

/// The `(expected: ...)` suffix of enumeration properties.
fn choice_suffix(wire: &str, field: &str) -> Option<&'static str> {
    match (wire, field) {
        ("account-disposition-notification", "state") => Some(DISPOSITION_EXPECTED),
        ("videoroom-composing-indication", "state") => Some(COMPOSING_EXPECTED),
        _ => None,
    }
}

fn contact_data() -> Value {
    json!({"id": "c1", "name": "Bob", "uris": [{"id": "u1", "uri": "bob@example.com"}],
           "dialog": {"policy": "default", "subscribe": false},
           "presence": {"policy": "default", "subscribe": false}})
}

fn addressbook_update() -> Value {
    msg(
        "account-update-addressbook",
        json!({"account": ALICE, "action": "add", "type": "contact", "data": contact_data()}),
    )
}

// ---------------------------------------------------------------------------------------------
// Table-driven checks over every request type
// ---------------------------------------------------------------------------------------------

/// §2.5: the 35 names, plus the two of Appendix A; §1.5: their class names.
#[test]
fn request_names_and_class_names() {
    let spec_names = "ping  lookup-public-key
        account-add  account-remove  account-register  account-unregister  account-devicetoken
        account-message  account-disposition-notification  account-sync-conversations
        account-mark-conversation-read  account-remove-message  account-remove-conversation
        account-fetch-addressbook  account-update-addressbook
        session-create  session-answer  session-trickle  session-terminate  session-update
        session-message  session-dtmf-info
        videoroom-join  videoroom-leave  videoroom-configure  videoroom-feed-attach
        videoroom-feed-answer  videoroom-feed-detach  videoroom-invite  videoroom-session-trickle
        videoroom-session-update  videoroom-message  videoroom-composing-indication
        videoroom-mute-audio-participants  videoroom-toggle-hand";
    let names: Vec<&str> = spec_names.split_whitespace().collect();
    assert_eq!(names.len(), 35);
    for name in &names {
        assert!(
            REQUEST_TYPES.contains(name),
            "{name} missing from REQUEST_TYPES"
        );
    }
    for name in ["videoroom-remove", "videoroom-mute-participant"] {
        assert!(
            REQUEST_TYPES.contains(&name),
            "{name} missing from REQUEST_TYPES"
        );
    }
    assert_eq!(REQUEST_TYPES.len(), 37);

    let table = cases();
    assert_eq!(table.len(), 36); // all but account-update-addressbook
    for case in &table {
        assert!(names.contains(&case.wire) || case.wire.starts_with("videoroom-"));
        assert_eq!(class_name(case.wire), Some(case.class), "{}", case.wire);
    }
    assert_eq!(
        class_name("account-update-addressbook"),
        Some("AccountUpdateAddressBookRequest")
    );
    assert_eq!(class_name("nope"), None);
}

#[test]
fn every_valid_message_is_accepted() {
    for case in cases() {
        let r = ok(case.valid());
        assert_eq!(r.kind(), case.wire);
        assert_eq!(r.transaction(), "t1");
    }
    let r = ok(addressbook_update());
    assert_eq!(r.kind(), "account-update-addressbook");
    assert_eq!(r.transaction(), "t1");
}

/// Only declared properties matter: extra keys change nothing.
#[test]
fn unknown_keys_are_ignored() {
    let extras = json!({"usernameFragment": "abc", "zzz": [1, {"a": null}], "old_token": 5,
                        "data2": {}, "": ""});
    let mut all = cases().into_iter().map(|c| c.valid()).collect::<Vec<_>>();
    all.push(addressbook_update());
    for valid in all {
        let plain = ok(valid.clone());
        let mut noisy = valid.clone();
        for (k, v) in extras.as_object().unwrap() {
            noisy[k] = v.clone();
        }
        assert_eq!(ok(noisy), plain, "{valid}");
    }
}

/// §0: "Optional properties may be absent or null. An explicit null is stored as unset."
#[test]
fn optional_null_is_the_same_as_absent() {
    for case in cases() {
        for field in case.optional {
            let absent = ok(without(case.valid(), &[field]));
            let null = ok(with(case.valid(), field, Value::Null));
            assert_eq!(absent, null, "{} {field}", case.wire);
            assert_ne!(absent, ok(case.valid()), "{} {field}", case.wire);
        }
    }
}

/// A missing mandatory property is reported with the class name, and when several are missing
/// the first in class order is reported. Without `transaction` there is no answer at all.
#[test]
fn missing_mandatory_properties_in_class_order() {
    for case in cases() {
        let n = case.mandatory.len();
        for i in 0..n {
            let msg = without(case.valid(), &case.mandatory[i..]);
            let expected = missing(case.mandatory[i], case.class);
            if i == 0 {
                assert_eq!(
                    req(msg),
                    Parsed::Ignored(Ignored::NoTransaction {
                        kind: case.wire.to_string(),
                        error: expected,
                    }),
                    "{}",
                    case.wire
                );
            } else {
                assert_eq!(err(msg), expected, "{}", case.wire);
                // Only that one missing.
                let msg = without(case.valid(), &[case.mandatory[i]]);
                assert_eq!(err(msg), expected, "{}", case.wire);
            }
        }
    }
}

/// A wrong JSON type is reported as `Invalid value for 'x' property: <repr>`, first fault in
/// class order first; the transaction is echoed raw.
#[test]
fn wrong_types_in_class_order() {
    for case in cases() {
        let n = case.mandatory.len();
        for i in 0..n {
            let mut msg = case.valid();
            for f in &case.mandatory[i..] {
                msg[*f] = json!(5);
            }
            let field = case.mandatory[i];
            let mut expected = format!("Invalid value for '{field}' property: 5");
            if let Some(suffix) = choice_suffix(case.wire, field) {
                expected = format!("{expected} {suffix}");
            }
            assert_eq!(err(msg), expected, "{}", case.wire);
        }
    }
}

/// §0: "A mandatory property that is null is rejected with Invalid value for 'x' property: None".
#[test]
fn null_mandatory_properties() {
    for case in cases() {
        for field in case.mandatory {
            let msg = with(case.valid(), field, Value::Null);
            let mut expected = format!("Invalid value for '{field}' property: None");
            if let Some(suffix) = choice_suffix(case.wire, field) {
                expected = format!("{expected} {suffix}");
            }
            assert_eq!(err(msg), expected, "{} {field}", case.wire);
        }
    }
}

/// Optional properties are type-checked too when present and not null.
#[test]
fn optional_properties_wrong_type() {
    for case in cases() {
        for field in case.optional {
            let msg = with(case.valid(), field, json!({"x": 1}));
            assert_eq!(
                err(msg),
                format!("Invalid value for '{field}' property: {{'x': 1}}"),
                "{} {field}",
                case.wire
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// "No reply" outcomes (§1.4 step 1)
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_json_is_ignored() {
    for text in [
        "",
        "{",
        "{\"sylkrtc\": \"ping\", \"transaction\": \"t1\"",
        "sylkrtc",
        "{'sylkrtc': 'ping'}",
        "{\"sylkrtc\": \"ping\", \"transaction\": \"t1\",}",
        "\u{feff}{}",
        "NaN",
    ] {
        assert!(
            matches!(parse(text), Parsed::Ignored(Ignored::InvalidJson(_))),
            "{text:?}: {:?}",
            parse(text)
        );
    }
}

#[test]
fn non_objects_are_ignored() {
    for text in [
        r#"[{"sylkrtc": "ping", "transaction": "t1"}]"#,
        "[]",
        "5",
        "null",
        "true",
        r#""ping""#,
    ] {
        assert_eq!(parse(text), Parsed::Ignored(Ignored::NotAnObject), "{text}");
    }
}

#[test]
fn missing_sylkrtc_is_ignored_even_with_a_transaction() {
    assert_eq!(
        req(json!({"transaction": "t1"})),
        Parsed::Ignored(Ignored::MissingType)
    );
    assert_eq!(req(json!({})), Parsed::Ignored(Ignored::MissingType));
    assert_eq!(
        req(json!({"transaction": "t1", "account": ALICE, "password": HA1})),
        Parsed::Ignored(Ignored::MissingType)
    );
    assert_eq!(
        Ignored::MissingType.to_string(),
        "could not get WebSocket message type"
    );
}

#[test]
fn unknown_sylkrtc_is_ignored() {
    for kind in [
        "foo",
        "Ping",
        "account_add",
        "videoroom-ctl",
        "videoroom-terminate",
        "videoroom-mute",
        "ack",
        "error",
        "ready-event",
        "account-event",
        "",
    ] {
        let parsed = req(json!({"sylkrtc": kind, "transaction": "t1"}));
        assert_eq!(
            parsed,
            Parsed::Ignored(Ignored::UnknownType(kind.to_string())),
            "{kind}"
        );
    }
    assert_eq!(
        Ignored::UnknownType("foo".into()).to_string(),
        "unknown WebSocket request: foo"
    );
}

#[test]
fn non_string_sylkrtc_is_ignored() {
    for kind in [json!(5), json!(null), json!(true), json!(1.5)] {
        let parsed = req(json!({"sylkrtc": kind, "transaction": "t1"}));
        assert!(
            matches!(parsed, Parsed::Ignored(Ignored::UnknownType(_))),
            "{kind}: {parsed:?}"
        );
    }
}

#[test]
fn validation_failure_without_transaction_is_ignored() {
    assert_eq!(
        req(json!({"sylkrtc": "account-add", "account": ALICE})),
        Parsed::Ignored(Ignored::NoTransaction {
            kind: "account-add".into(),
            error: missing("transaction", "AccountAddRequest"),
        })
    );
    // `transaction` is the first property, so its absence is the fault reported.
    assert_eq!(
        req(json!({"sylkrtc": "session-trickle", "session": 5, "candidates": [5]})),
        Parsed::Ignored(Ignored::NoTransaction {
            kind: "session-trickle".into(),
            error: missing("transaction", "SessionTrickleRequest"),
        })
    );
    // A message that is otherwise complete still needs a transaction.
    assert!(matches!(
        req(json!({"sylkrtc": "ping"})),
        Parsed::Ignored(Ignored::NoTransaction { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Transaction handling
// ---------------------------------------------------------------------------------------------

#[test]
fn transaction_is_echoed_raw() {
    let cases = [
        (json!(5), "Invalid value for 'transaction' property: 5"),
        (
            json!(null),
            "Invalid value for 'transaction' property: None",
        ),
        (
            json!(true),
            "Invalid value for 'transaction' property: True",
        ),
        (json!(1.5), "Invalid value for 'transaction' property: 1.5"),
        (
            json!([1, "a"]),
            "Invalid value for 'transaction' property: [1, 'a']",
        ),
        (
            json!({"a": [1, 2.5, null, false]}),
            "Invalid value for 'transaction' property: {'a': [1, 2.5, None, False]}",
        ),
    ];
    for (transaction, text) in cases {
        let m = json!({"sylkrtc": "ping", "transaction": transaction.clone()});
        assert_eq!(
            req(m),
            Parsed::Rejected {
                transaction,
                kind: "ping".into(),
                error: text.into(),
            }
        );
    }
    // A string transaction is echoed as given when another property is wrong.
    assert_eq!(
        req(json!({"sylkrtc": "account-register", "transaction": "9dcad2df-xyz", "account": 1})),
        Parsed::Rejected {
            transaction: json!("9dcad2df-xyz"),
            kind: "account-register".into(),
            error: "Invalid value for 'account' property: 1".into(),
        }
    );
    // An empty string is a string.
    assert_eq!(
        ok(json!({"sylkrtc": "ping", "transaction": ""})).transaction(),
        ""
    );
}

/// §1.4 "The transaction is echoed raw" and §1.5 `<python repr of value>`: a float is read
/// exactly (as Python's `json.loads` does), so the echo and the error text keep its digits.
#[test]
fn float_transaction_is_echoed_exactly() {
    for (text, value) in [
        ("1.301230758064064e+183", 1.301230758064064e183),
        ("-6.987624035931088e-200", -6.987624035931088e-200),
    ] {
        let parsed = parse(&format!(r#"{{"sylkrtc":"ping","transaction":{text}}}"#));
        assert_eq!(
            parsed,
            Parsed::Rejected {
                transaction: json!(value),
                kind: "ping".into(),
                error: format!("Invalid value for 'transaction' property: {text}"),
            }
        );
    }
}

#[test]
fn duplicate_keys_last_one_wins() {
    let r = parse(r#"{"sylkrtc": "ping", "transaction": 5, "transaction": "t2"}"#);
    assert_eq!(
        r,
        Parsed::Request(Request::Ping(PingRequest {
            transaction: "t2".into()
        }))
    );
}

/// A message with several faults reports the first in class order.
#[test]
fn several_faults_report_the_first_in_class_order() {
    let all_bad = json!({"sylkrtc": "account-add", "transaction": 5, "account": "a b",
                         "display_name": 1, "incoming_header_prefixes": "X"});
    assert_eq!(
        err(all_bad.clone()),
        "Invalid value for 'transaction' property: 5"
    );
    let m = with(all_bad, "transaction", json!("t1"));
    assert_eq!(err(m.clone()), "invalid SIP URI: a b");
    let m = with(m, "account", json!("sip:alice@example.com"));
    assert_eq!(err(m.clone()), missing("password", "AccountAddRequest"));
    let m = with(m, "password", json!(""));
    assert_eq!(
        err(m.clone()),
        "the value's length must be between 1 and 9999 inclusive"
    );
    let m = with(m, "password", json!(HA1));
    assert_eq!(
        err(m.clone()),
        "Invalid value for 'display_name' property: 1"
    );
    let m = with(m, "display_name", json!("Alice"));
    assert_eq!(
        err(m.clone()),
        "Invalid value for 'incoming_header_prefixes' property: 'X'"
    );
    let m = with(m, "incoming_header_prefixes", json!(["X"]));
    ok(m);

    // session-create: session, account, uri, sdp, headers.
    let m = msg(
        "session-create",
        json!({"session": 1, "account": "x y", "uri": "bob@", "headers": [5]}),
    );
    assert_eq!(err(m.clone()), "Invalid value for 'session' property: 1");
    let m = with(m, "session", json!("s"));
    assert_eq!(err(m.clone()), "invalid SIP URI: x y");
    let m = with(m, "account", json!(ALICE));
    assert_eq!(err(m.clone()), "invalid SIP URI: bob@");
    let m = with(m, "uri", json!("bob@example.com"));
    assert_eq!(err(m.clone()), missing("sdp", "SessionCreateRequest"));
    let m = with(m, "sdp", json!(SDP));
    assert_eq!(err(m.clone()), "Invalid value for Header: 5");
}

// ---------------------------------------------------------------------------------------------
// §2.1 Connection-level
// ---------------------------------------------------------------------------------------------

#[test]
fn ping() {
    let r = expect!(json!({"sylkrtc": "ping", "transaction": "abc"}), Ping);
    assert_eq!(
        r,
        PingRequest {
            transaction: "abc".into()
        }
    );
    assert_eq!(
        err(json!({"sylkrtc": "ping", "transaction": 7})),
        "Invalid value for 'transaction' property: 7"
    );
}

#[test]
fn lookup_public_key() {
    let r = expect!(
        msg("lookup-public-key", json!({"uri": "sip:bob@example.com"})),
        LookupPublicKey
    );
    assert_eq!(r.transaction, "t1");
    assert_eq!(r.uri, "bob@example.com");
    assert_eq!(
        err(msg("lookup-public-key", json!({"uri": "a b"}))),
        "invalid SIP URI: a b"
    );
    assert_eq!(
        err(msg("lookup-public-key", json!({}))),
        missing("uri", "LookupPublicKeyRequest")
    );
}

// ---------------------------------------------------------------------------------------------
// §2.2 Account requests
// ---------------------------------------------------------------------------------------------

#[test]
fn account_add_observed_on_the_wire() {
    let text = r#"{"sylkrtc":"account-add","account":"alice@example.com","password":"b1726872c344b6dc8365b774f8fd6412","display_name":"Alice","user_agent":"SylkRTC (Chrome 156.0.0.0 on Linux)","transaction":"9dcad2df-..."}"#;
    let Parsed::Request(Request::AccountAdd(r)) = parse(text) else {
        panic!("{:?}", parse(text));
    };
    assert_eq!(r.transaction, "9dcad2df-...");
    assert_eq!(r.account, ALICE);
    assert_eq!(r.password.expose(), HA1);
    assert_eq!(r.display_name.as_deref(), Some("Alice"));
    assert_eq!(
        r.user_agent.as_deref(),
        Some("SylkRTC (Chrome 156.0.0.0 on Linux)")
    );
    assert_eq!(r.incoming_header_prefixes, None);
    assert_eq!(r.previous_session_token, None);
    // The password is never printed.
    assert!(!format!("{r:?}").contains(HA1));
}

#[test]
fn account_add_normalises_and_deduplicates() {
    let r = expect!(
        msg(
            "account-add",
            json!({"account": "sip:alice@example.com", "password": "x", "display_name": null,
                   "incoming_header_prefixes": ["X-Sylk", "X-Foo", "X-Sylk", "X-Foo", "x-sylk"]}),
        ),
        AccountAdd
    );
    assert_eq!(r.account, ALICE);
    assert_eq!(r.password.expose(), "x");
    assert_eq!(r.display_name, None);
    assert_eq!(r.user_agent, None);
    assert_eq!(
        r.incoming_header_prefixes,
        Some(vec!["X-Sylk".into(), "X-Foo".into(), "x-sylk".into()])
    );
    // Appendix A: previous_session_token is accepted.
    let r = expect!(
        msg(
            "account-add",
            json!({"account": ALICE, "password": "x", "previous_session_token": "tok"}),
        ),
        AccountAdd
    );
    assert_eq!(r.previous_session_token.as_deref(), Some("tok"));
}

#[test]
fn account_add_password_length() {
    let base = msg("account-add", json!({"account": ALICE}));
    let len_err = "the value's length must be between 1 and 9999 inclusive";
    assert_eq!(err(with(base.clone(), "password", json!(""))), len_err);
    assert_eq!(
        err(with(base.clone(), "password", json!("a".repeat(10000)))),
        len_err
    );
    // The length is counted in characters (Python len), not bytes.
    for p in [
        "a".repeat(9999),
        "é".repeat(9999),
        "😀".repeat(9999),
        "a".into(),
    ] {
        let r = expect!(with(base.clone(), "password", json!(p.clone())), AccountAdd);
        assert_eq!(r.password.expose(), p);
    }
    assert_eq!(
        err(with(base.clone(), "password", json!("é".repeat(10000)))),
        len_err
    );
    // No format check.
    ok(with(
        base.clone(),
        "password",
        json!("not an HA1 at all \u{0}"),
    ));
    assert_eq!(
        err(base.clone()),
        "Mandatory property 'password' of 'AccountAddRequest' object is missing"
    );
    assert_eq!(
        err(with(base, "password", json!(12345))),
        "Invalid value for 'password' property: 12345"
    );
}

#[test]
fn account_add_prefix_items() {
    let base = msg("account-add", json!({"account": ALICE, "password": HA1}));
    assert_eq!(
        err(with(
            base.clone(),
            "incoming_header_prefixes",
            json!(["X-Sylk", 5])
        )),
        "Invalid value for str: 5"
    );
    assert_eq!(
        err(with(
            base.clone(),
            "incoming_header_prefixes",
            json!([null])
        )),
        "Invalid value for str: None"
    );
    assert_eq!(
        err(with(
            base.clone(),
            "incoming_header_prefixes",
            json!("X-Sylk")
        )),
        "Invalid value for 'incoming_header_prefixes' property: 'X-Sylk'"
    );
    let r = expect!(
        with(base, "incoming_header_prefixes", json!([])),
        AccountAdd
    );
    assert_eq!(r.incoming_header_prefixes, Some(vec![]));
}

#[test]
fn account_remove_register_unregister_fetch() {
    macro_rules! account_only {
        ($wire:literal, $variant:ident, $class:literal) => {{
            let r = expect!(
                msg($wire, json!({"account": "sip:alice@example.com"})),
                $variant
            );
            assert_eq!(r.account, ALICE);
            assert_eq!(r.transaction, "t1");
            assert_eq!(
                err(msg($wire, json!({"account": "alice@"}))),
                "invalid SIP URI: alice@"
            );
            assert_eq!(err(msg($wire, json!({}))), missing("account", $class));
            assert_eq!(
                err(msg($wire, json!({"account": ["alice@example.com"]}))),
                "Invalid value for 'account' property: ['alice@example.com']"
            );
        }};
    }
    account_only!("account-remove", AccountRemove, "AccountRemoveRequest");
    account_only!(
        "account-register",
        AccountRegister,
        "AccountRegisterRequest"
    );
    account_only!(
        "account-unregister",
        AccountUnregister,
        "AccountUnregisterRequest"
    );
    account_only!(
        "account-fetch-addressbook",
        AccountFetchAddressbook,
        "AccountFetchAddressbookRequest"
    );
}

#[test]
fn account_devicetoken() {
    let fields = json!({"account": "sip:alice@example.com", "token": "voip-apns",
                        "platform": "ios", "device": "dev1", "silent": true, "app": "app1"});
    let r = expect!(
        msg("account-devicetoken", fields.clone()),
        AccountDeviceToken
    );
    assert_eq!(r.account, ALICE);
    assert_eq!(r.token, "voip-apns");
    assert_eq!(r.platform, "ios");
    assert_eq!(r.device, "dev1");
    assert!(r.silent);
    assert_eq!(r.app, "app1");

    let base = msg("account-devicetoken", fields);
    // `silent` has a default in the model but is not optional.
    assert_eq!(
        err(without(base.clone(), &["silent"])),
        "Mandatory property 'silent' of 'AccountDeviceTokenRequest' object is missing"
    );
    assert_eq!(
        err(with(base.clone(), "silent", json!("yes"))),
        "Invalid value for 'silent' property: 'yes'"
    );
    assert_eq!(
        err(with(base.clone(), "silent", json!(1))),
        "Invalid value for 'silent' property: 1"
    );
    assert_eq!(
        err(with(base.clone(), "silent", json!(null))),
        "Invalid value for 'silent' property: None"
    );
    // Old sylkRTC-1 fields alone are not enough.
    assert_eq!(
        err(msg(
            "account-devicetoken",
            json!({"account": ALICE, "old_token": "a", "new_token": "b"})
        )),
        missing("token", "AccountDeviceTokenRequest")
    );
}

#[test]
fn account_message() {
    let fields = json!({"account": "sip:alice@example.com", "uri": "sips:bob@example.com",
                        "message_id": "6f1c", "content": "héllo", "content_type": "text/plain",
                        "timestamp": "2026-07-17T08:41:52.123Z"});
    let base = msg("account-message", fields);
    let r = expect!(base.clone(), AccountMessage);
    assert_eq!(r.account, ALICE);
    assert_eq!(r.uri, "bob@example.com");
    assert_eq!(r.message_id, "6f1c");
    assert_eq!(r.content, "héllo");
    assert_eq!(r.content_type, "text/plain");
    assert_eq!(r.timestamp, "2026-07-17T08:41:52.123Z");
    assert_eq!(r.server_generated, None);
    let r = expect!(
        with(base.clone(), "server_generated", json!(true)),
        AccountMessage
    );
    assert_eq!(r.server_generated, Some(true));

    assert_eq!(
        err(with(base.clone(), "uri", json!("bob@"))),
        "invalid SIP URI: bob@"
    );
    assert_eq!(
        err(with(base.clone(), "content", json!(5))),
        "Invalid value for 'content' property: 5"
    );
    assert_eq!(
        err(with(base.clone(), "server_generated", json!("true"))),
        "Invalid value for 'server_generated' property: 'true'"
    );
    assert_eq!(
        err(without(base, &["timestamp"])),
        missing("timestamp", "AccountMessageRequest")
    );
}

#[test]
fn account_disposition_notification() {
    let base = msg(
        "account-disposition-notification",
        json!({"account": ALICE, "uri": "sip:bob@example.com", "message_id": "6f1c",
               "state": "delivered", "timestamp": "2026-07-17T08:41:52.123Z"}),
    );
    for state in ["delivered", "failed", "displayed", "forbidden", "error"] {
        let r = expect!(
            with(base.clone(), "state", json!(state)),
            AccountDispositionNotification
        );
        assert_eq!(r.state, state);
        assert_eq!(r.uri, "bob@example.com");
        assert_eq!(r.message_id, "6f1c");
        assert_eq!(r.timestamp, "2026-07-17T08:41:52.123Z");
    }
    assert_eq!(
        err(with(base.clone(), "state", json!("x"))),
        "Invalid value for 'state' property: 'x' (expected: delivered, displayed, error, failed or forbidden)"
    );
    assert_eq!(
        err(with(base.clone(), "state", json!("accepted"))),
        format!("Invalid value for 'state' property: 'accepted' {DISPOSITION_EXPECTED}")
    );
    assert_eq!(
        err(with(base.clone(), "state", json!("Delivered"))),
        format!("Invalid value for 'state' property: 'Delivered' {DISPOSITION_EXPECTED}")
    );
    assert_eq!(
        err(without(base, &["state"])),
        missing("state", "AccountDispositionNotificationRequest")
    );
}

#[test]
fn account_sync_conversations() {
    let base = msg("account-sync-conversations", json!({"account": ALICE}));
    let r = expect!(base.clone(), AccountSyncConversations);
    assert_eq!(r.account, ALICE);
    assert_eq!((r.message_id, r.since, r.limit), (None, None, None));

    // What the client sends when it has no id.
    let r = expect!(
        with(base.clone(), "message_id", Value::Null),
        AccountSyncConversations
    );
    assert_eq!(r.message_id, None);

    let r = expect!(
        msg(
            "account-sync-conversations",
            json!({"account": ALICE, "message_id": "6f1c", "since": "2026-07-14T00:00:00Z",
                   "limit": 100}),
        ),
        AccountSyncConversations
    );
    assert_eq!(r.message_id.as_deref(), Some("6f1c"));
    assert_eq!(r.since.as_deref(), Some("2026-07-14T00:00:00Z"));
    assert_eq!(r.limit, Some(100));

    // Python quirk: booleans are integers.
    let r = expect!(
        with(base.clone(), "limit", json!(true)),
        AccountSyncConversations
    );
    assert_eq!(r.limit, Some(1));
    let r = expect!(
        with(base.clone(), "limit", json!(false)),
        AccountSyncConversations
    );
    assert_eq!(r.limit, Some(0));
    let r = expect!(
        with(base.clone(), "limit", json!(-3)),
        AccountSyncConversations
    );
    assert_eq!(r.limit, Some(-3));

    assert_eq!(
        err(with(base.clone(), "limit", json!(1.5))),
        "Invalid value for 'limit' property: 1.5"
    );
    assert_eq!(
        err(with(base.clone(), "limit", json!(1.0))),
        "Invalid value for 'limit' property: 1.0"
    );
    assert_eq!(
        err(with(base.clone(), "limit", json!("10"))),
        "Invalid value for 'limit' property: '10'"
    );
    assert_eq!(
        err(with(base.clone(), "limit", json!("it's"))),
        "Invalid value for 'limit' property: \"it's\""
    );
    assert_eq!(
        err(with(base.clone(), "message_id", json!(5))),
        "Invalid value for 'message_id' property: 5"
    );
    // A JSON float written in exponent form is still a float.
    assert_eq!(
        err(parse_text_value(
            r#"{"sylkrtc":"account-sync-conversations","transaction":"t1","account":"alice@example.com","limit":1e3}"#
        )),
        "Invalid value for 'limit' property: 1000.0"
    );
}

fn parse_text_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// §0: "IntegerProperty accepts only JSON integers" — an integer beyond the i64 range is still
/// a JSON integer (Python ints are unbounded); it must not be turned into a bogus error.
#[test]
fn integer_beyond_i64_is_an_integer() {
    let text = r#"{"sylkrtc":"account-sync-conversations","transaction":"t1","account":"alice@example.com","limit":9223372036854775808}"#;
    let parsed = parse(text);
    assert!(
        matches!(
            parsed,
            Parsed::Request(Request::AccountSyncConversations(_))
        ),
        "{parsed:?}"
    );
}

#[test]
fn account_mark_conversation_read() {
    let r = expect!(
        msg(
            "account-mark-conversation-read",
            json!({"account": "sip:alice@example.com", "contact": "sip:bob@example.com"}),
        ),
        AccountMarkConversationRead
    );
    assert_eq!(
        (r.account.as_str(), r.contact.as_str()),
        (ALICE, "bob@example.com")
    );
    assert_eq!(
        err(msg(
            "account-mark-conversation-read",
            json!({"account": ALICE, "contact": "bob @example.com"})
        )),
        "invalid SIP URI: bob @example.com"
    );
    assert_eq!(
        err(msg(
            "account-mark-conversation-read",
            json!({"account": ALICE})
        )),
        missing("contact", "AccountMarkConversationReadRequest")
    );
}

#[test]
fn account_remove_message() {
    let r = expect!(
        msg(
            "account-remove-message",
            json!({"account": ALICE, "message_id": "6f1c-1", "contact": "sips:bob@example.com"}),
        ),
        AccountRemoveMessage
    );
    assert_eq!(r.message_id, "6f1c-1");
    assert_eq!(r.contact, "bob@example.com");
    // message_id comes before contact.
    assert_eq!(
        err(msg("account-remove-message", json!({"account": ALICE}))),
        missing("message_id", "AccountMessageRemoveRequest")
    );
    assert_eq!(
        err(msg(
            "account-remove-message",
            json!({"account": ALICE, "message_id": 1, "contact": "x y"})
        )),
        "Invalid value for 'message_id' property: 1"
    );
    assert_eq!(
        err(msg(
            "account-remove-message",
            json!({"account": ALICE, "message_id": "1", "contact": "x y"})
        )),
        "invalid SIP URI: x y"
    );
}

#[test]
fn account_remove_conversation() {
    let r = expect!(
        msg(
            "account-remove-conversation",
            json!({"account": ALICE, "contact": "bob@example.com", "timestamp": "ignored"}),
        ),
        AccountRemoveConversation
    );
    assert_eq!(r.contact, "bob@example.com");
    assert_eq!(
        err(msg(
            "account-remove-conversation",
            json!({"account": ALICE})
        )),
        missing("contact", "AccountConversationRemoveRequest")
    );
    assert_eq!(
        err(msg(
            "account-remove-conversation",
            json!({"account": ALICE, "contact": "@example.com"})
        )),
        "invalid SIP URI: @example.com"
    );
}

#[test]
fn account_update_addressbook_accepted() {
    let r = expect!(addressbook_update(), AccountUpdateAddressbook);
    assert_eq!(r.transaction, "t1");
    assert_eq!(r.account, ALICE);
    assert_eq!(r.action, "add");
    assert_eq!(r.kind, "contact");
    let Entry::Contact(c) = &r.data else {
        panic!("{:?}", r.data)
    };
    assert_eq!(c.id, "c1");
    assert_eq!(c.name, "Bob");
    assert_eq!(c.uris.len(), 1);
    assert_eq!(c.uris[0].uri, "bob@example.com");
    assert_eq!(c.dialog.policy, "default");
    assert!(!c.presence.subscribe);
    // §3.2: when absent, the default URI is the first URI.
    assert_eq!(c.default_uri.as_ref().map(|u| u.id.as_str()), Some("u1"));
    assert_eq!(r.data.id(), "c1");
    assert_eq!(
        r.data.to_value()["defaultUri"],
        json!({"id": "u1", "uri": "bob@example.com"})
    );

    // default_uri is accepted as an alias and renamed.
    let mut data = contact_data();
    data["uris"] = json!([{"id": "u1", "uri": "bob@example.com"},
                          {"id": "u2", "uri": "bob@work.example.com"}]);
    data["default_uri"] = json!({"id": "u2", "uri": "bob@work.example.com"});
    let r = expect!(
        with(addressbook_update(), "data", data),
        AccountUpdateAddressbook
    );
    assert_eq!(r.data.to_value()["defaultUri"]["id"], json!("u2"));

    for action in ["add", "update", "delete"] {
        let r = expect!(
            with(addressbook_update(), "action", json!(action)),
            AccountUpdateAddressbook
        );
        assert_eq!(r.action, action);
    }

    let group = msg(
        "account-update-addressbook",
        json!({"account": "sip:alice@example.com", "action": "update", "type": "group",
               "data": {"id": "g1", "name": "Friends", "contacts": [contact_data()]}}),
    );
    let r = expect!(group, AccountUpdateAddressbook);
    assert_eq!(r.account, ALICE);
    assert_eq!(r.kind, "group");
    let Entry::Group(g) = &r.data else {
        panic!("{:?}", r.data)
    };
    assert_eq!(g.id, "g1");
    assert_eq!(g.contacts.len(), 1);
    assert_eq!(
        g.contacts[0].default_uri.as_ref().map(|u| u.id.as_str()),
        Some("u1")
    );

    let policy = msg(
        "account-update-addressbook",
        json!({"account": ALICE, "action": "delete", "type": "policy",
               "data": {"id": "p1", "name": "Block", "uri": "spam@example.com",
                        "dialog": {"policy": "block", "subscribe": false},
                        "presence": {"policy": "block", "subscribe": false}}}),
    );
    let r = expect!(policy, AccountUpdateAddressbook);
    assert_eq!(r.kind, "policy");
    assert!(matches!(&r.data, Entry::Policy(p) if p.uri == "spam@example.com"));
}

#[test]
fn account_update_addressbook_rejected() {
    let base = addressbook_update();
    // Python KeyErrors, data before type.
    assert_eq!(err(without(base.clone(), &["data"])), "'data'");
    assert_eq!(err(without(base.clone(), &["type"])), "'type'");
    assert_eq!(err(without(base.clone(), &["type", "data"])), "'data'");
    // The mapper runs before validation, so its errors beat the transaction's.
    assert_eq!(
        err(with(
            with(base.clone(), "type", json!("groupMember")),
            "transaction",
            json!(5)
        )),
        "Unknown type: groupMember"
    );
    assert_eq!(
        err(with(base.clone(), "type", json!("groupMember"))),
        "Unknown type: groupMember"
    );
    assert_eq!(
        err(with(
            with(base.clone(), "data", json!({"id": "c1"})),
            "transaction",
            json!(5)
        )),
        "Mandatory property 'name' of 'Contact' object is missing"
    );
    // J sends delete with a bare {id}: validation fails.
    let bare = with(
        with(base.clone(), "action", json!("delete")),
        "data",
        json!({"id": "c1"}),
    );
    assert_eq!(
        err(bare),
        "Mandatory property 'name' of 'Contact' object is missing"
    );
    let mut bad = contact_data();
    bad["dialog"] = json!({"policy": "default"});
    assert_eq!(
        err(with(base.clone(), "data", bad)),
        "Mandatory property 'subscribe' of 'EventHandling' object is missing"
    );
    let mut bad = contact_data();
    bad["uris"] = json!([5]);
    assert_eq!(
        err(with(base.clone(), "data", bad)),
        "Invalid value for ContactURI: 5"
    );
    // Then the request's own properties, in class order.
    assert_eq!(
        err(with(base.clone(), "transaction", json!(5))),
        "Invalid value for 'transaction' property: 5"
    );
    assert_eq!(
        err(with(base.clone(), "account", json!("alice@"))),
        "invalid SIP URI: alice@"
    );
    assert_eq!(
        err(without(base.clone(), &["action"])),
        "Mandatory property 'action' of 'AccountUpdateAddressBookRequest' object is missing"
    );
    assert_eq!(
        err(with(base.clone(), "action", json!("x"))),
        format!("Invalid value for 'action' property: 'x' {ACTION_EXPECTED}")
    );
    // The mapper lower-cases the type, the request's own check does not.
    assert_eq!(
        err(with(base.clone(), "type", json!("Contact"))),
        format!("Invalid value for 'type' property: 'Contact' {TYPE_EXPECTED}")
    );
    // Without a transaction: no reply.
    assert_eq!(
        req(without(base, &["transaction", "data"])),
        Parsed::Ignored(Ignored::NoTransaction {
            kind: "account-update-addressbook".into(),
            error: "'data'".into(),
        })
    );
}

/// §2.2 quirk: "`attributes` objects are modelled as empty `JSONObject`s and therefore
/// **always re-serialized as `{}`**."
#[test]
fn addressbook_attributes_are_kept() {
    // Deliberate deviation from the spec's quirk (§2.2: attributes "always re-serialized as
    // {}"), which loses what the client stored; upstream fixed it with a free-form object.
    let mut data = contact_data();
    data["attributes"] = json!({"organization": "AG"});
    data["uris"] = json!([{"id": "u1", "uri": "bob@example.com", "attributes": {"x": 1}}]);
    let r = expect!(
        with(addressbook_update(), "data", data),
        AccountUpdateAddressbook
    );
    let v = r.data.to_value();
    assert_eq!(v["attributes"], json!({"organization": "AG"}), "{v}");
    assert_eq!(v["uris"][0]["attributes"], json!({"x": 1}), "{v}");
}

// ---------------------------------------------------------------------------------------------
// §2.3 Session requests
// ---------------------------------------------------------------------------------------------

#[test]
fn session_create() {
    let base = msg(
        "session-create",
        json!({"session": "5e7a", "account": "sip:alice@example.com",
               "uri": "sip:bob@example.com", "sdp": SDP}),
    );
    let r = expect!(base.clone(), SessionCreate);
    assert_eq!(r.session, "5e7a");
    assert_eq!(r.account, ALICE);
    assert_eq!(r.uri, "bob@example.com");
    assert_eq!(r.sdp, SDP);
    assert_eq!(r.headers, None);

    let r = expect!(
        with(
            base.clone(),
            "headers",
            json!([{"name": "X-Foo", "value": "bar", "extra": 1},
                   {"name": "X-Foo", "value": "bar"}])
        ),
        SessionCreate
    );
    let h = Header {
        name: "X-Foo".into(),
        value: "bar".into(),
    };
    // Headers are not a unique array.
    assert_eq!(r.headers, Some(vec![h.clone(), h]));
    // A PSTN number is a valid AOR.
    let r = expect!(
        with(base.clone(), "uri", json!("+31208005100@example.com")),
        SessionCreate
    );
    assert_eq!(r.uri, "+31208005100@example.com");

    assert_eq!(
        err(with(base.clone(), "headers", json!([5]))),
        "Invalid value for Header: 5"
    );
    assert_eq!(
        err(with(base.clone(), "headers", json!([{"name": "X-Foo"}]))),
        "Mandatory property 'value' of 'Header' object is missing"
    );
    assert_eq!(
        err(with(
            base.clone(),
            "headers",
            json!([{"name": "X-Foo", "value": 1}])
        )),
        "Invalid value for 'value' property: 1"
    );
    assert_eq!(
        err(with(base.clone(), "headers", json!({"X-Foo": "bar"}))),
        "Invalid value for 'headers' property: {'X-Foo': 'bar'}"
    );
    assert_eq!(
        err(with(base.clone(), "uri", json!("bob@"))),
        "invalid SIP URI: bob@"
    );
    assert_eq!(
        err(without(base, &["sdp"])),
        missing("sdp", "SessionCreateRequest")
    );
}

#[test]
fn session_answer() {
    let base = msg("session-answer", json!({"session": "5e7a", "sdp": SDP}));
    let r = expect!(base.clone(), SessionAnswer);
    assert_eq!((r.session.as_str(), r.sdp.as_str()), ("5e7a", SDP));
    assert_eq!(r.headers, None);
    let r = expect!(
        with(
            base.clone(),
            "headers",
            json!([{"name": "X-A", "value": ""}])
        ),
        SessionAnswer
    );
    assert_eq!(r.headers.unwrap()[0].name, "X-A");
    assert_eq!(
        err(without(base.clone(), &["sdp"])),
        missing("sdp", "SessionAnswerRequest")
    );
    assert_eq!(
        err(with(base, "headers", json!("X-A: b"))),
        "Invalid value for 'headers' property: 'X-A: b'"
    );
}

fn trickle_checks(wire: &str, class: &str) {
    let base = msg(wire, json!({"session": "5e7a"}));
    let with_c = |c: Value| with(base.clone(), "candidates", c);
    let cand = |r: &Parsed| -> Vec<IceCandidate> {
        match r {
            Parsed::Request(Request::SessionTrickle(t)) => t.candidates.clone(),
            Parsed::Request(Request::VideoroomSessionTrickle(t)) => t.candidates.clone(),
            other => panic!("{other:?}"),
        }
    };

    // Extra keys (usernameFragment) are ignored.
    let c = cand(&req(with_c(json!([
        {"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"},
        {"candidate": CAND, "sdpMid": "1", "sdpMLineIndex": 1}
    ]))));
    assert_eq!(
        c,
        vec![
            IceCandidate {
                candidate: CAND.into(),
                sdp_m_line_index: 0,
                sdp_mid: "0".into()
            },
            IceCandidate {
                candidate: CAND.into(),
                sdp_m_line_index: 1,
                sdp_mid: "1".into()
            }
        ]
    );
    // An empty array is the end of candidates.
    assert!(cand(&req(with_c(json!([])))).is_empty());
    // Python quirk: a boolean is an integer.
    let c = cand(&req(with_c(
        json!([{"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": true}]),
    )));
    assert_eq!(c[0].sdp_m_line_index, 1);

    assert_eq!(
        err(with_c(json!([{"sdpMid": "0", "sdpMLineIndex": 0}]))),
        "Mandatory property 'candidate' of 'ICECandidate' object is missing"
    );
    assert_eq!(
        err(with_c(json!([{"candidate": CAND, "sdpMid": "0"}]))),
        "Mandatory property 'sdpMLineIndex' of 'ICECandidate' object is missing"
    );
    assert_eq!(
        err(with_c(json!([{"candidate": CAND, "sdpMLineIndex": 0}]))),
        "Mandatory property 'sdpMid' of 'ICECandidate' object is missing"
    );
    assert_eq!(err(with_c(json!([5]))), "Invalid value for ICECandidate: 5");
    assert_eq!(
        err(with_c(json!([null]))),
        "Invalid value for ICECandidate: None"
    );
    assert_eq!(
        err(with_c(
            json!([{"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0}, "x"])
        )),
        "Invalid value for ICECandidate: 'x'"
    );
    assert_eq!(
        err(with_c(
            json!([{"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": "0"}])
        )),
        "Invalid value for 'sdpMLineIndex' property: '0'"
    );
    assert_eq!(
        err(with_c(
            json!([{"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0.0}])
        )),
        "Invalid value for 'sdpMLineIndex' property: 0.0"
    );
    assert_eq!(
        err(with_c(
            json!([{"candidate": CAND, "sdpMid": null, "sdpMLineIndex": 0}])
        )),
        "Invalid value for 'sdpMid' property: None"
    );
    assert_eq!(
        err(with_c(json!(CAND))),
        format!("Invalid value for 'candidates' property: '{CAND}'")
    );
    assert_eq!(
        err(with_c(json!({"candidate": CAND}))),
        format!("Invalid value for 'candidates' property: {{'candidate': '{CAND}'}}")
    );
    assert_eq!(err(base), missing("candidates", class));
}

#[test]
fn session_trickle() {
    trickle_checks("session-trickle", "SessionTrickleRequest");
    let r = expect!(
        msg(
            "session-trickle",
            json!({"session": "5e7a", "candidates": cands()})
        ),
        SessionTrickle
    );
    assert_eq!(r.session, "5e7a");
    assert_eq!(r.candidates.len(), 1);
}

#[test]
fn session_terminate() {
    let r = expect!(
        msg("session-terminate", json!({"session": "5e7a"})),
        SessionTerminate
    );
    assert_eq!(r.session, "5e7a");
    assert_eq!(
        err(msg("session-terminate", json!({}))),
        missing("session", "SessionTerminateRequest")
    );
    assert_eq!(
        err(msg("session-terminate", json!({"session": 12}))),
        "Invalid value for 'session' property: 12"
    );
}

#[test]
fn session_update() {
    let base = msg("session-update", json!({"session": "5e7a", "sdp": SDP}));
    let r = expect!(base.clone(), SessionUpdate);
    assert_eq!((r.session.as_str(), r.sdp.as_str()), ("5e7a", SDP));
    assert_eq!(r.headers, None);
    let r = expect!(
        with(
            base.clone(),
            "headers",
            json!([{"name": "X-B", "value": "1"}])
        ),
        SessionUpdate
    );
    assert_eq!(r.headers.unwrap().len(), 1);
    assert_eq!(
        err(without(base.clone(), &["sdp"])),
        missing("sdp", "SessionUpdateRequest")
    );
    assert_eq!(
        err(with(base, "headers", json!([[]]))),
        "Invalid value for Header: []"
    );
}

#[test]
fn session_message() {
    let base = msg(
        "session-message",
        json!({"session": "5e7a", "message_id": "1b2c", "content": "hi",
               "content_type": "text/plain", "timestamp": "2026-07-17T08:41:52.123Z"}),
    );
    let r = expect!(base.clone(), SessionMessage);
    assert_eq!(r.session, "5e7a");
    assert_eq!(r.message_id, "1b2c");
    assert_eq!(r.content, "hi");
    assert_eq!(r.content_type, "text/plain");
    assert_eq!(r.timestamp, "2026-07-17T08:41:52.123Z");
    assert_eq!(
        err(without(base.clone(), &["content_type", "timestamp"])),
        missing("content_type", "SessionMessageRequest")
    );
    assert_eq!(
        err(with(base, "timestamp", json!(1_700_000_000))),
        "Invalid value for 'timestamp' property: 1700000000"
    );
}

#[test]
fn session_dtmf_info() {
    let base = msg(
        "session-dtmf-info",
        json!({"session": "5e7a", "digit": "123#"}),
    );
    let r = expect!(base.clone(), SessionDtmfInfo);
    assert_eq!(r.digit, "123#");
    assert_eq!(r.duration, None);
    let r = expect!(with(base.clone(), "duration", json!(100)), SessionDtmfInfo);
    assert_eq!(r.duration, Some(100));
    let r = expect!(with(base.clone(), "duration", json!(true)), SessionDtmfInfo);
    assert_eq!(r.duration, Some(1));
    assert_eq!(
        err(with(base.clone(), "duration", json!(100.0))),
        "Invalid value for 'duration' property: 100.0"
    );
    assert_eq!(
        err(with(base.clone(), "digit", json!(1))),
        "Invalid value for 'digit' property: 1"
    );
    assert_eq!(
        err(without(base, &["digit"])),
        missing("digit", "SessionDtmfInfoRequest")
    );
}

// ---------------------------------------------------------------------------------------------
// §2.4 Videoroom requests
// ---------------------------------------------------------------------------------------------

#[test]
fn videoroom_join() {
    let base = msg(
        "videoroom-join",
        json!({"session": "a1b2", "account": "sip:alice@example.com",
               "uri": "sip:room1@videoconference.example.com", "sdp": SDP}),
    );
    let r = expect!(base.clone(), VideoroomJoin);
    assert_eq!(r.session, "a1b2");
    assert_eq!(r.account, ALICE);
    assert_eq!(r.uri, "room1@videoconference.example.com");
    assert_eq!(r.sdp, SDP);
    assert_eq!((r.audio, r.video), (None, None));
    let r = expect!(
        with(
            with(base.clone(), "audio", json!(true)),
            "video",
            json!(false)
        ),
        VideoroomJoin
    );
    assert_eq!((r.audio, r.video), (Some(true), Some(false)));

    assert_eq!(
        err(with(base.clone(), "video", json!("yes"))),
        "Invalid value for 'video' property: 'yes'"
    );
    assert_eq!(
        err(with(base.clone(), "audio", json!(0))),
        "Invalid value for 'audio' property: 0"
    );
    // account before uri.
    assert_eq!(
        err(with(
            with(base.clone(), "account", json!("a b")),
            "uri",
            json!("c d")
        )),
        "invalid SIP URI: a b"
    );
    assert_eq!(
        err(without(base, &["uri", "sdp"])),
        missing("uri", "VideoroomJoinRequest")
    );
}

#[test]
fn videoroom_leave() {
    let r = expect!(
        msg("videoroom-leave", json!({"session": "a1b2"})),
        VideoroomLeave
    );
    assert_eq!(r.session, "a1b2");
    assert_eq!(
        err(msg("videoroom-leave", json!({}))),
        missing("session", "VideoroomLeaveRequest")
    );
}

#[test]
fn videoroom_configure() {
    let base = msg("videoroom-configure", json!({"session": "a1b2"}));
    let ap = |v: Value| with(base.clone(), "active_participants", v);
    let r = expect!(ap(json!([])), VideoroomConfigure);
    assert!(r.active_participants.is_empty());
    let r = expect!(ap(json!(["c3d4", "e5f6"])), VideoroomConfigure);
    assert_eq!(r.active_participants, vec!["c3d4", "e5f6"]);
    // De-duplicated, then the length is checked.
    let r = expect!(
        ap(json!(["c3d4", "c3d4", "e5f6", "c3d4"])),
        VideoroomConfigure
    );
    assert_eq!(r.active_participants, vec!["c3d4", "e5f6"]);
    // Session ids, not AORs.
    let r = expect!(ap(json!(["not a uri"])), VideoroomConfigure);
    assert_eq!(r.active_participants, vec!["not a uri"]);

    assert_eq!(
        err(ap(json!(["a", "b", "c"]))),
        "the value's length must be between 0 and 2 inclusive"
    );
    assert_eq!(err(ap(json!(["a", 5]))), "Invalid value for str: 5");
    assert_eq!(
        err(ap(json!("a"))),
        "Invalid value for 'active_participants' property: 'a'"
    );
    assert_eq!(
        err(base),
        missing("active_participants", "VideoroomConfigureRequest")
    );
}

#[test]
fn videoroom_feed_attach() {
    let base = msg(
        "videoroom-feed-attach",
        json!({"session": "a1b2", "publisher": "c3d4", "feed": "9f8e"}),
    );
    let r = expect!(base.clone(), VideoroomFeedAttach);
    assert_eq!(
        (r.session.as_str(), r.publisher.as_str(), r.feed.as_str()),
        ("a1b2", "c3d4", "9f8e")
    );
    assert_eq!(
        err(without(base.clone(), &["publisher", "feed"])),
        missing("publisher", "VideoroomFeedAttachRequest")
    );
    assert_eq!(
        err(with(base, "feed", json!(9))),
        "Invalid value for 'feed' property: 9"
    );
}

#[test]
fn videoroom_feed_answer() {
    let base = msg(
        "videoroom-feed-answer",
        json!({"session": "a1b2", "feed": "9f8e", "sdp": SDP}),
    );
    let r = expect!(base.clone(), VideoroomFeedAnswer);
    assert_eq!((r.feed.as_str(), r.sdp.as_str()), ("9f8e", SDP));
    assert_eq!(
        err(without(base.clone(), &["feed", "sdp"])),
        missing("feed", "VideoroomFeedAnswerRequest")
    );
    assert_eq!(
        err(without(base, &["sdp"])),
        missing("sdp", "VideoroomFeedAnswerRequest")
    );
}

#[test]
fn videoroom_feed_detach() {
    let base = msg(
        "videoroom-feed-detach",
        json!({"session": "a1b2", "feed": "9f8e"}),
    );
    let r = expect!(base.clone(), VideoroomFeedDetach);
    assert_eq!((r.session.as_str(), r.feed.as_str()), ("a1b2", "9f8e"));
    assert_eq!(
        err(without(base, &["feed"])),
        missing("feed", "VideoroomFeedDetachRequest")
    );
}

#[test]
fn videoroom_invite() {
    let base = msg("videoroom-invite", json!({"session": "a1b2"}));
    let p = |v: Value| with(base.clone(), "participants", v);
    let r = expect!(
        p(json!([
            "sip:bob@example.com",
            "bob@example.com",
            "sips:carol@example.com",
            "carol@example.com",
            "example.org"
        ])),
        VideoroomInvite
    );
    assert_eq!(
        r.participants,
        vec!["bob@example.com", "carol@example.com", "example.org"]
    );
    let r = expect!(p(json!([])), VideoroomInvite);
    assert!(r.participants.is_empty());
    assert_eq!(err(p(json!(["bob@"]))), "invalid SIP URI: bob@");
    assert_eq!(
        err(p(json!(["bob@example.com", "sip:x y"]))),
        "invalid SIP URI: sip:x y"
    );
    assert_eq!(err(p(json!([5]))), "Invalid value for str: 5");
    assert_eq!(
        err(p(json!("bob@example.com"))),
        "Invalid value for 'participants' property: 'bob@example.com'"
    );
    assert_eq!(err(base), missing("participants", "VideoroomInviteRequest"));
}

#[test]
fn videoroom_session_trickle() {
    trickle_checks(
        "videoroom-session-trickle",
        "VideoroomSessionTrickleRequest",
    );
    let r = expect!(
        msg(
            "videoroom-session-trickle",
            json!({"session": "9f8e", "candidates": []})
        ),
        VideoroomSessionTrickle
    );
    assert_eq!(r.session, "9f8e");
    assert!(r.candidates.is_empty());
}

#[test]
fn videoroom_session_update() {
    let base = msg("videoroom-session-update", json!({"session": "9f8e"}));
    let o = |v: Value| with(base.clone(), "options", v);
    let r = expect!(o(json!({})), VideoroomSessionUpdate);
    assert_eq!(r.options, VideoroomSessionOptions::default());
    let r = expect!(o(json!({"video": false})), VideoroomSessionUpdate);
    assert_eq!(
        r.options,
        VideoroomSessionOptions {
            audio: None,
            video: Some(false),
            bitrate: None
        }
    );
    let r = expect!(
        o(json!({"audio": true, "video": null, "bitrate": 256000, "x": 1})),
        VideoroomSessionUpdate
    );
    assert_eq!(
        r.options,
        VideoroomSessionOptions {
            audio: Some(true),
            video: None,
            bitrate: Some(256000)
        }
    );
    assert_eq!(
        err(o(json!("video"))),
        "Invalid value for 'options' property: 'video'"
    );
    assert_eq!(
        err(o(json!(null))),
        "Invalid value for 'options' property: None"
    );
    assert_eq!(
        err(o(json!({"bitrate": 1.5}))),
        "Invalid value for 'bitrate' property: 1.5"
    );
    assert_eq!(
        err(o(json!({"audio": 1}))),
        "Invalid value for 'audio' property: 1"
    );
    assert_eq!(
        err(base),
        missing("options", "VideoroomSessionUpdateRequest")
    );
}

#[test]
fn videoroom_message() {
    let base = msg(
        "videoroom-message",
        json!({"session": "a1b2", "message_id": "77aa", "content": "hi all",
               "content_type": "text/plain"}),
    );
    let r = expect!(base.clone(), VideoroomMessage);
    assert_eq!(r.message_id, "77aa");
    assert_eq!(r.content, "hi all");
    assert_eq!(r.content_type, "text/plain");
    assert_eq!(
        err(without(base.clone(), &["content"])),
        missing("content", "VideoroomMessageRequest")
    );
    assert_eq!(
        err(with(base, "content", json!(["hi"]))),
        "Invalid value for 'content' property: ['hi']"
    );
}

#[test]
fn videoroom_composing_indication() {
    let base = msg(
        "videoroom-composing-indication",
        json!({"session": "a1b2", "state": "idle"}),
    );
    let r = expect!(base.clone(), VideoroomComposingIndication);
    assert_eq!(r.state, "idle");
    assert_eq!(r.refresh, None);
    let r = expect!(
        with(
            with(base.clone(), "state", json!("active")),
            "refresh",
            json!(60)
        ),
        VideoroomComposingIndication
    );
    assert_eq!((r.state.as_str(), r.refresh), ("active", Some(60)));
    assert_eq!(
        err(with(base.clone(), "state", json!("typing"))),
        "Invalid value for 'state' property: 'typing' (expected: active or idle)"
    );
    assert_eq!(
        err(with(base.clone(), "refresh", json!(1.0))),
        "Invalid value for 'refresh' property: 1.0"
    );
    assert_eq!(
        err(without(base, &["state"])),
        missing("state", "VideoroomComposingIndicationRequest")
    );
}

#[test]
fn videoroom_mute_audio_participants() {
    let r = expect!(
        msg(
            "videoroom-mute-audio-participants",
            json!({"session": "a1b2"})
        ),
        VideoroomMuteAudioParticipants
    );
    assert_eq!(r.session, "a1b2");
    assert_eq!(
        err(msg("videoroom-mute-audio-participants", json!({}))),
        missing("session", "VideoroomMuteAudioParticipantsRequest")
    );
}

#[test]
fn videoroom_toggle_hand() {
    let base = msg("videoroom-toggle-hand", json!({"session": "a1b2"}));
    let r = expect!(base.clone(), VideoroomToggleHand);
    assert_eq!(r.session_id, None);
    let r = expect!(
        with(base.clone(), "session_id", json!("c3d4")),
        VideoroomToggleHand
    );
    assert_eq!(r.session_id.as_deref(), Some("c3d4"));
    let r = expect!(
        with(base.clone(), "session_id", Value::Null),
        VideoroomToggleHand
    );
    assert_eq!(r.session_id, None);
    assert_eq!(
        err(with(base, "session_id", json!(5))),
        "Invalid value for 'session_id' property: 5"
    );
}

// Appendix A

#[test]
fn videoroom_remove() {
    let base = msg("videoroom-remove", json!({"session": "a1b2"}));
    let r = expect!(
        with(
            base.clone(),
            "participants",
            json!(["sip:bob@example.com", "bob@example.com"])
        ),
        VideoroomRemove
    );
    assert_eq!(r.session, "a1b2");
    assert_eq!(r.participants, vec!["bob@example.com"]);
    assert_eq!(
        err(with(base.clone(), "participants", json!(["bob@"]))),
        "invalid SIP URI: bob@"
    );
    assert_eq!(err(base), missing("participants", "VideoroomRemoveRequest"));
}

#[test]
fn videoroom_mute_participant() {
    let base = msg(
        "videoroom-mute-participant",
        json!({"session": "a1b2", "participant_id": "p1", "muted": true}),
    );
    let r = expect!(base.clone(), VideoroomMuteParticipant);
    assert_eq!(r.participant_id, "p1");
    assert!(r.muted);
    let r = expect!(
        with(base.clone(), "muted", json!(false)),
        VideoroomMuteParticipant
    );
    assert!(!r.muted);
    assert_eq!(
        err(with(base.clone(), "muted", json!("true"))),
        "Invalid value for 'muted' property: 'true'"
    );
    assert_eq!(
        err(without(base, &["muted"])),
        missing("muted", "VideoroomMuteParticipantRequest")
    );
}

// ---------------------------------------------------------------------------------------------
// §0 URI normalisation, through the requests
// ---------------------------------------------------------------------------------------------

#[test]
fn aor_normalisation() {
    let account = |a: &str| -> Result<String, String> {
        match req(msg("account-register", json!({"account": a}))) {
            Parsed::Request(Request::AccountRegister(r)) => Ok(r.account),
            Parsed::Rejected { error, .. } => Err(error),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(account("sip:alice@example.com"), Ok(ALICE.into()));
    assert_eq!(account("sips:alice@example.com"), Ok(ALICE.into()));
    assert_eq!(account("alice@example.com"), Ok(ALICE.into()));
    // No user part required.
    assert_eq!(account("example.com"), Ok("example.com".into()));
    assert_eq!(account("sip:example.com"), Ok("example.com".into()));
    assert_eq!(
        account("alice@example.com:5061;transport=tls"),
        Ok("alice@example.com:5061;transport=tls".into())
    );
    assert_eq!(
        account("alice@[2001:db8::1]"),
        Ok("alice@[2001:db8::1]".into())
    );
    // The error text holds the value as given.
    assert_eq!(account("alice@"), Err("invalid SIP URI: alice@".into()));
    assert_eq!(
        account("sip:alice@"),
        Err("invalid SIP URI: sip:alice@".into())
    );
    assert_eq!(account("a b"), Err("invalid SIP URI: a b".into()));
    assert_eq!(account(""), Err("invalid SIP URI: ".into()));
    assert_eq!(account("sip:"), Err("invalid SIP URI: sip:".into()));
    assert_eq!(account("tel:+123"), Err("invalid SIP URI: tel:+123".into()));
    assert_eq!(
        account("alice@example.com:99999"),
        Err("invalid SIP URI: alice@example.com:99999".into())
    );
}
