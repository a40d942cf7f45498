//! Event serialisation against the contract (`shared/protocol/sylkrtc.md` §0, §1, §3 and
//! Appendix A): each event is built as a Rust value and its `to_json()` compared with the
//! spec's example (key order is irrelevant), plus the null/omission and ASCII rules of §0.

use serde_json::{json, Map, Value};

use super::addressbook::{AddressBook, Contact, ContactUri, EventHandling, Group, Policy};
use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Asserts that `event` serialises to the JSON text `expected` (compared as values) and that
/// the output is ASCII only.
#[track_caller]
fn check(event: Event, expected: &str) {
    let text = event.to_json();
    assert!(text.is_ascii(), "not ASCII: {text}");
    let got: Value = serde_json::from_str(&text).expect("to_json output is JSON");
    let want: Value = serde_json::from_str(expected).expect("expected JSON");
    assert_eq!(got, want, "\n got: {text}\nwant: {expected}");
}

fn acc(event: AccountEvent) -> Event {
    Event::account("alice@example.com", event)
}

fn sess(event: SessionEvent) -> Event {
    Event::session("5e7a...", event)
}

fn room(event: VideoroomEvent) -> Event {
    Event::videoroom("a1b2...", event)
}

fn id(uri: &str, display_name: Option<&str>) -> Identity {
    Identity {
        uri: uri.into(),
        display_name: display_name.map(Into::into),
    }
}

fn bob() -> Identity {
    id("bob@example.com", Some("Bob"))
}

fn headers(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect()
}

const SDP: &str = "v=0\r\n...";
const CALL_ID: &str = "a84b4c76e66710@pc33";
const TS: &str = "2026-07-17T10:41:52+02:00";

fn state(s: CallState) -> Event {
    sess(SessionEvent::State(s))
}

fn room_state(s: RoomSessionState) -> Event {
    room(VideoroomEvent::SessionState(s))
}

fn publisher(id: &str, uri: &str, display_name: &str) -> Publisher {
    Publisher {
        id: id.into(),
        uri: uri.into(),
        display_name: display_name.into(),
        kind: None,
        muted: None,
    }
}

fn handling(policy: &str, subscribe: bool) -> EventHandling {
    EventHandling {
        policy: policy.into(),
        subscribe,
    }
}

fn contact_uri(id: &str, uri: &str) -> ContactUri {
    ContactUri {
        id: id.into(),
        uri: uri.into(),
        kind: None,
        attributes: None,
        default: None,
    }
}

fn contact_bob() -> Contact {
    Contact {
        id: "c1".into(),
        name: "Bob".into(),
        uris: vec![contact_uri("u1", "bob@example.com")],
        dialog: handling("default", false),
        presence: handling("default", false),
        attributes: None,
        default_uri: Some(contact_uri("u1", "bob@example.com")),
    }
}

// ---------------------------------------------------------------------------------------------
// §1 Connection: ready, ack, error
// ---------------------------------------------------------------------------------------------

#[test]
fn ready_event() {
    check(Event::Ready, r#"{"sylkrtc": "ready-event"}"#);
}

#[test]
fn ack() {
    check(
        Event::ack("<same>"),
        r#"{"transaction": "<same>", "sylkrtc": "ack"}"#,
    );
    check(
        Event::ack("9dcad2df-..."),
        r#"{"sylkrtc":"ack","transaction":"9dcad2df-..."}"#,
    );
}

#[test]
fn error() {
    check(
        Event::error("<same>", "<human readable text>"),
        r#"{"transaction": "<same>", "sylkrtc": "error", "error": "<human readable text>"}"#,
    );
    check(
        Event::error("t1", "Internal error"),
        r#"{"sylkrtc":"error","transaction":"t1","error":"Internal error"}"#,
    );
}

/// §1.4: a validation error echoes the raw transaction, even when it is not a string.
#[test]
fn error_for_a_rejected_request_echoes_the_raw_transaction() {
    let Parsed::Rejected {
        transaction, error, ..
    } = parse(r#"{"sylkrtc": "ping", "transaction": 5}"#)
    else {
        panic!()
    };
    check(
        Event::error(transaction, error),
        r#"{"sylkrtc":"error","transaction":5,"error":"Invalid value for 'transaction' property: 5"}"#,
    );
    check(
        Event::error(json!({"a": [1]}), "x"),
        r#"{"sylkrtc":"error","transaction":{"a":[1]},"error":"x"}"#,
    );
    check(
        Event::error(Value::Null, "x"),
        r#"{"sylkrtc":"error","transaction":null,"error":"x"}"#,
    );
}

#[test]
fn client_ping_request_shape() {
    // §1.3 — what the client sends; the reply is a plain ack.
    let r = parse(r#"{"sylkrtc": "ping", "transaction": "<uuid4>"}"#);
    let Parsed::Request(r) = r else {
        panic!("{r:?}")
    };
    check(
        Event::ack(r.transaction()),
        r#"{"sylkrtc":"ack","transaction":"<uuid4>"}"#,
    );
}

// ---------------------------------------------------------------------------------------------
// §3.1 Connection events
// ---------------------------------------------------------------------------------------------

#[test]
fn lookup_public_key_event() {
    check(
        Event::LookupPublicKey {
            uri: "bob@example.com".into(),
            public_key: Some("-----BEGIN PGP PUBLIC KEY BLOCK-----\n...".into()),
        },
        r#"{"sylkrtc":"lookup-public-key-event","uri":"bob@example.com","public_key":"-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."}"#,
    );
    // public_key: null is emitted, not omitted.
    check(
        Event::LookupPublicKey {
            uri: "carol@example.com".into(),
            public_key: None,
        },
        r#"{"sylkrtc":"lookup-public-key-event","uri":"carol@example.com","public_key":null}"#,
    );
    let text = Event::LookupPublicKey {
        uri: "carol@example.com".into(),
        public_key: None,
    }
    .to_json();
    assert!(text.contains(r#""public_key":null"#), "{text}");
}

// ---------------------------------------------------------------------------------------------
// §3.2 account-event
// ---------------------------------------------------------------------------------------------

#[test]
fn registration_state_registering() {
    check(
        acc(AccountEvent::RegistrationState(
            RegistrationState::Registering,
        )),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"registration-state","state":"registering"}"#,
    );
}

#[test]
fn registration_state_registered() {
    check(
        acc(AccountEvent::RegistrationState(
            RegistrationState::Registered,
        )),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"registration-state","state":"registered"}"#,
    );
}

#[test]
fn registration_state_failed() {
    check(
        acc(AccountEvent::RegistrationState(RegistrationState::Failed {
            reason: Some("403 Forbidden".into()),
        })),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"registration-state","state":"failed","reason":"403 Forbidden"}"#,
    );
    check(
        acc(AccountEvent::RegistrationState(RegistrationState::Failed {
            reason: Some("external authentication failed (wrong username or password?)".into()),
        })),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"registration-state","state":"failed","reason":"external authentication failed (wrong username or password?)"}"#,
    );
    // Without a reason: omitted.
    check(
        acc(AccountEvent::RegistrationState(RegistrationState::Failed {
            reason: None,
        })),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"registration-state","state":"failed"}"#,
    );
}

#[test]
fn incoming_session() {
    check(
        acc(AccountEvent::IncomingSession {
            session: "0cc175b9-c0f1-b6a8-31c3-99e269772661".into(),
            originator: bob(),
            sdp: SDP.into(),
            call_id: CALL_ID.into(),
            headers: Some(headers(&[("X-Sylk-Foo", "bar")])),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"incoming-session","session":"0cc175b9-c0f1-b6a8-31c3-99e269772661","originator":{"uri":"bob@example.com","display_name":"Bob"},"sdp":"v=0\r\n...","call_id":"a84b4c76e66710@pc33","headers":{"X-Sylk-Foo":"bar"}}"#,
    );
    // No headers: omitted; no display name: null.
    check(
        acc(AccountEvent::IncomingSession {
            session: "0cc175b9-c0f1-b6a8-31c3-99e269772661".into(),
            originator: id("bob@example.com", None),
            sdp: SDP.into(),
            call_id: CALL_ID.into(),
            headers: None,
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"incoming-session","session":"0cc175b9-c0f1-b6a8-31c3-99e269772661","originator":{"uri":"bob@example.com","display_name":null},"sdp":"v=0\r\n...","call_id":"a84b4c76e66710@pc33"}"#,
    );
}

#[test]
fn missed_session() {
    check(
        acc(AccountEvent::MissedSession { originator: bob() }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"missed-session","originator":{"uri":"bob@example.com","display_name":"Bob"}}"#,
    );
}

#[test]
fn conference_invite() {
    check(
        acc(AccountEvent::ConferenceInvite {
            room: "room1@videoconference.example.com".into(),
            session_id: "3f5e...-...".into(),
            originator: bob(),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"conference-invite","room":"room1@videoconference.example.com","session_id":"3f5e...-...","originator":{"uri":"bob@example.com","display_name":"Bob"}}"#,
    );
}

#[test]
fn account_message() {
    check(
        acc(AccountEvent::Message {
            sender: id("bob@example.com", None),
            timestamp: TS.into(),
            disposition_notification: Some(vec!["positive-delivery".into(), "display".into()]),
            message_id: "6f1c...".into(),
            content_type: "text/plain".into(),
            content: "hello".into(),
            direction: None,
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"message","sender":{"uri":"bob@example.com","display_name":null},"timestamp":"2026-07-17T10:41:52+02:00","disposition_notification":["positive-delivery","display"],"message_id":"6f1c...","content_type":"text/plain","content":"hello"}"#,
    );
    // disposition_notification: null is emitted.
    let e = acc(AccountEvent::Message {
        sender: bob(),
        timestamp: TS.into(),
        disposition_notification: None,
        message_id: "6f1c...".into(),
        content_type: "text/plain".into(),
        content: "hello".into(),
        direction: None,
    });
    assert!(
        e.to_json().contains(r#""disposition_notification":null"#),
        "{}",
        e.to_json()
    );
    check(
        e,
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"message","sender":{"uri":"bob@example.com","display_name":"Bob"},"timestamp":"2026-07-17T10:41:52+02:00","disposition_notification":null,"message_id":"6f1c...","content_type":"text/plain","content":"hello"}"#,
    );
}

#[test]
fn account_disposition_notification() {
    check(
        acc(AccountEvent::DispositionNotification {
            message_id: "6f1c...".into(),
            message_timestamp: TS.into(),
            state: "accepted".into(),
            code: 202,
            reason: "Accepted".into(),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"disposition-notification","message_id":"6f1c...","message_timestamp":"2026-07-17T10:41:52+02:00","state":"accepted","code":202,"reason":"Accepted"}"#,
    );
    // An incoming IMDN: code 200, reason "".
    check(
        acc(AccountEvent::DispositionNotification {
            message_id: "6f1c...".into(),
            message_timestamp: TS.into(),
            state: "displayed".into(),
            code: 200,
            reason: String::new(),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"disposition-notification","message_id":"6f1c...","message_timestamp":"2026-07-17T10:41:52+02:00","state":"displayed","code":200,"reason":""}"#,
    );
    // Every state of the table is a plain string.
    for s in DISPOSITION_EVENT_STATES {
        let e = acc(AccountEvent::DispositionNotification {
            message_id: "m".into(),
            message_timestamp: TS.into(),
            state: (*s).into(),
            code: 200,
            reason: String::new(),
        });
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["state"], json!(s));
    }
    assert_eq!(DISPOSITION_EVENT_STATES.len(), 8);
}

#[test]
fn sync_conversations() {
    check(
        acc(AccountEvent::SyncConversations {
            messages: vec![JournalEntry {
                contact: "bob@example.com".into(),
                timestamp: TS.into(),
                disposition: Some(vec![]),
                message_id: "6f1c...".into(),
                content_type: "text/plain".into(),
                content: "hello".into(),
                direction: Some("outgoing".into()),
                state: Some("displayed".into()),
            }],
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync-conversations","messages":[{"contact":"bob@example.com","timestamp":"2026-07-17T10:41:52+02:00","disposition":[],"message_id":"6f1c...","content_type":"text/plain","content":"hello","direction":"outgoing","state":"displayed"}]}"#,
    );
    // A read journal entry: direction "", disposition null.
    check(
        acc(AccountEvent::SyncConversations {
            messages: vec![JournalEntry {
                contact: "bob@example.com".into(),
                timestamp: TS.into(),
                disposition: None,
                message_id: "0a1b".into(),
                content_type: "application/sylk-conversation-read".into(),
                content: "bob@example.com".into(),
                direction: Some(String::new()),
                state: Some("received".into()),
            }],
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync-conversations","messages":[{"contact":"bob@example.com","timestamp":"2026-07-17T10:41:52+02:00","disposition":null,"message_id":"0a1b","content_type":"application/sylk-conversation-read","content":"bob@example.com","direction":"","state":"received"}]}"#,
    );
    check(
        acc(AccountEvent::SyncConversations { messages: vec![] }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync-conversations","messages":[]}"#,
    );
}

/// §3.2 journal entry: "`state` | string or null" and §0: "A property explicitly set to `None`
/// is emitted as `null`" — a stored entry without a state is sent with `"state": null`.
#[test]
fn journal_entry_without_state_has_null_state() {
    let e = acc(AccountEvent::SyncConversations {
        messages: vec![JournalEntry {
            contact: "bob@example.com".into(),
            timestamp: TS.into(),
            disposition: None,
            message_id: "0a1b".into(),
            content_type: "application/sylk-conversation-remove".into(),
            content: "bob@example.com".into(),
            direction: Some(String::new()),
            state: None,
        }],
    });
    let v: Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(
        v["messages"][0].get("state"),
        Some(&Value::Null),
        "{}",
        e.to_json()
    );
}

#[test]
fn sync_message_add() {
    check(
        acc(AccountEvent::Sync {
            kind: "message".into(),
            action: "add".into(),
            content: json!({"transaction": "9dca...", "account": "alice@example.com",
                            "sylkrtc": "account-message", "uri": "bob@example.com",
                            "message_id": "6f1c...", "content": "hello",
                            "content_type": "text/plain",
                            "timestamp": "2026-07-17T08:41:52.000Z"}),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync","type":"message","action":"add","content":{"transaction":"9dca...","account":"alice@example.com","sylkrtc":"account-message","uri":"bob@example.com","message_id":"6f1c...","content":"hello","content_type":"text/plain","timestamp":"2026-07-17T08:41:52.000Z"}}"#,
    );
    // From a SIP device: server_generated and transaction "1".
    check(
        acc(AccountEvent::Sync {
            kind: "message".into(),
            action: "add".into(),
            content: json!({"transaction": "1", "account": "alice@example.com",
                            "sylkrtc": "account-message", "uri": "bob@example.com",
                            "message_id": "6f1c", "content": "hi",
                            "content_type": "text/plain", "timestamp": TS,
                            "server_generated": true}),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync","type":"message","action":"add","content":{"transaction":"1","account":"alice@example.com","sylkrtc":"account-message","uri":"bob@example.com","message_id":"6f1c","content":"hi","content_type":"text/plain","timestamp":"2026-07-17T10:41:52+02:00","server_generated":true}}"#,
    );
}

#[test]
fn sync_message_remove() {
    check(
        acc(AccountEvent::Sync {
            kind: "message".into(),
            action: "remove".into(),
            content: json!({"contact": "bob@example.com", "message_id": "6f1c...",
                            "direction": "outgoing"}),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync","type":"message","action":"remove","content":{"contact":"bob@example.com","message_id":"6f1c...","direction":"outgoing"}}"#,
    );
}

#[test]
fn sync_conversation_read() {
    check(
        acc(AccountEvent::Sync {
            kind: "conversation".into(),
            action: "read".into(),
            content: json!({"contact": "bob@example.com"}),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync","type":"conversation","action":"read","content":{"contact":"bob@example.com"}}"#,
    );
}

#[test]
fn sync_conversation_remove() {
    check(
        acc(AccountEvent::Sync {
            kind: "conversation".into(),
            action: "remove".into(),
            content: json!({"contact": "bob@example.com", "timestamp": TS}),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"sync","type":"conversation","action":"remove","content":{"contact":"bob@example.com","timestamp":"2026-07-17T10:41:52+02:00"}}"#,
    );
}

#[test]
fn addressbook_fetched() {
    check(
        acc(AccountEvent::AddressbookFetched {
            addressbook: AddressBook::default(),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-fetched","addressbook":{"contacts":[],"groups":[],"policies":[]}}"#,
    );
    check(
        acc(AccountEvent::AddressbookFetched {
            addressbook: AddressBook {
                contacts: vec![contact_bob()],
                groups: vec![Group {
                    id: "g1".into(),
                    name: "Friends".into(),
                    attributes: None,
                    contacts: vec![contact_bob()],
                }],
                policies: vec![Policy {
                    id: "p1".into(),
                    name: "Block".into(),
                    uri: "spam@example.com".into(),
                    dialog: handling("block", false),
                    presence: handling("block", true),
                    attributes: None,
                }],
            },
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-fetched","addressbook":{
            "contacts":[{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":false},"defaultUri":{"id":"u1","uri":"bob@example.com"}}],
            "groups":[{"id":"g1","name":"Friends","contacts":[{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":false},"defaultUri":{"id":"u1","uri":"bob@example.com"}}]}],
            "policies":[{"id":"p1","name":"Block","uri":"spam@example.com","dialog":{"policy":"block","subscribe":false},"presence":{"policy":"block","subscribe":true}}]}}"#,
    );
}

#[test]
fn addressbook_updated_contact() {
    check(
        acc(AccountEvent::AddressbookUpdated {
            kind: "contact".into(),
            action: "add".into(),
            contact: Some(contact_bob().into()),
            group: None,
            policy: None,
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-updated","type":"contact","action":"add","contact":{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":false},"defaultUri":{"id":"u1","uri":"bob@example.com"}}}"#,
    );
}

/// The contact of a parsed `account-update-addressbook` goes out with `defaultUri` (filled with
/// the first URI when absent, renamed from `default_uri` when given that way).
#[test]
fn addressbook_updated_from_a_request() {
    let text = r#"{"sylkrtc":"account-update-addressbook","transaction":"t1","account":"sip:alice@example.com","action":"add","type":"contact","data":{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":false}}}"#;
    let Parsed::Request(Request::AccountUpdateAddressbook(r)) = parse(text) else {
        panic!("{:?}", parse(text))
    };
    let super::addressbook::Entry::Contact(contact) = r.data else {
        panic!()
    };
    check(
        Event::account(
            r.account,
            AccountEvent::AddressbookUpdated {
                kind: r.kind,
                action: r.action,
                contact: Some(contact.into()),
                group: None,
                policy: None,
            },
        ),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-updated","type":"contact","action":"add","contact":{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":false},"defaultUri":{"id":"u1","uri":"bob@example.com"}}}"#,
    );

    let text = r#"{"sylkrtc":"account-update-addressbook","transaction":"t1","account":"alice@example.com","action":"update","type":"contact","data":{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"},{"id":"u2","uri":"bob@work.example.com","type":"work","default":true}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":true},"default_uri":{"id":"u2","uri":"bob@work.example.com"}}}"#;
    let Parsed::Request(Request::AccountUpdateAddressbook(r)) = parse(text) else {
        panic!("{:?}", parse(text))
    };
    let super::addressbook::Entry::Contact(contact) = r.data else {
        panic!()
    };
    let event = acc(AccountEvent::AddressbookUpdated {
        kind: r.kind,
        action: r.action,
        contact: Some(contact.into()),
        group: None,
        policy: None,
    });
    assert!(
        !event.to_json().contains("default_uri"),
        "{}",
        event.to_json()
    );
    check(
        event,
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-updated","type":"contact","action":"update","contact":{"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"},{"id":"u2","uri":"bob@work.example.com","type":"work","default":true}],"dialog":{"policy":"default","subscribe":false},"presence":{"policy":"default","subscribe":true},"defaultUri":{"id":"u2","uri":"bob@work.example.com"}}}"#,
    );
}

#[test]
fn addressbook_updated_group_and_policy() {
    check(
        acc(AccountEvent::AddressbookUpdated {
            kind: "group".into(),
            action: "update".into(),
            contact: None,
            group: Some(
                Group {
                    id: "g1".into(),
                    name: "Friends".into(),
                    attributes: None,
                    contacts: vec![],
                }
                .into(),
            ),
            policy: None,
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-updated","type":"group","action":"update","group":{"id":"g1","name":"Friends","contacts":[]}}"#,
    );
    check(
        acc(AccountEvent::AddressbookUpdated {
            kind: "policy".into(),
            action: "delete".into(),
            contact: None,
            group: None,
            policy: Some(
                Policy {
                    id: "p1".into(),
                    name: "Block".into(),
                    uri: "spam@example.com".into(),
                    dialog: handling("block", false),
                    presence: handling("block", false),
                    attributes: None,
                }
                .into(),
            ),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-updated","type":"policy","action":"delete","policy":{"id":"p1","name":"Block","uri":"spam@example.com","dialog":{"policy":"block","subscribe":false},"presence":{"policy":"block","subscribe":false}}}"#,
    );
}

#[test]
fn addressbook_update_failed() {
    check(
        acc(AccountEvent::AddressbookUpdateFailed {
            kind: "contact".into(),
            action: "update".into(),
            error: "Non-200 response: 404, Not found".into(),
            id: "c1".into(),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"addressbook-update-failed","type":"contact","action":"update","error":"Non-200 response: 404, Not found","id":"c1"}"#,
    );
}

// ---------------------------------------------------------------------------------------------
// §3.3 session-event
// ---------------------------------------------------------------------------------------------

#[test]
fn call_state_progress() {
    check(
        state(CallState::Progress),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"progress"}"#,
    );
}

#[test]
fn call_state_proceeding() {
    check(
        state(CallState::Proceeding { code: 100 }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"proceeding","code":100}"#,
    );
}

#[test]
fn call_state_ringing() {
    check(
        state(CallState::Ringing),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"ringing"}"#,
    );
}

#[test]
fn call_state_early_media() {
    check(
        state(CallState::EarlyMedia {
            sdp: Some(SDP.into()),
            call_id: Some(CALL_ID.into()),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"early-media","sdp":"v=0\r\n...","call_id":"a84b4c76e66710@pc33"}"#,
    );
}

#[test]
fn call_state_accepted() {
    check(
        state(CallState::Accepted {
            sdp: Some(SDP.into()),
            call_id: Some(CALL_ID.into()),
            headers: Some(headers(&[("X-Sylk-Foo", "bar")])),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"accepted","sdp":"v=0\r\n...","call_id":"a84b4c76e66710@pc33","headers":{"X-Sylk-Foo":"bar"}}"#,
    );
    // Incoming, or after early media: no sdp.
    check(
        state(CallState::Accepted {
            sdp: None,
            call_id: None,
            headers: None,
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"accepted"}"#,
    );
    // Outgoing without custom headers.
    check(
        state(CallState::Accepted {
            sdp: Some(SDP.into()),
            call_id: Some(CALL_ID.into()),
            headers: None,
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"accepted","sdp":"v=0\r\n...","call_id":"a84b4c76e66710@pc33"}"#,
    );
}

#[test]
fn call_state_established() {
    check(
        state(CallState::Established),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"established"}"#,
    );
}

#[test]
fn call_state_terminated() {
    check(
        state(CallState::Terminated {
            reason: Some("486 Busy Here".into()),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"terminated","reason":"486 Busy Here"}"#,
    );
    check(
        state(CallState::Terminated {
            reason: Some("unspecified reason".into()),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"terminated","reason":"unspecified reason"}"#,
    );
    check(
        state(CallState::Terminated { reason: None }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"state","state":"terminated"}"#,
    );
}

#[test]
fn session_update_received() {
    check(
        sess(SessionEvent::Update {
            state: UpdateState::Received,
            sdp: Some(SDP.into()),
            reason: None,
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"update","state":"received","sdp":"v=0\r\n..."}"#,
    );
}

#[test]
fn session_update_accepted() {
    check(
        sess(SessionEvent::Update {
            state: UpdateState::Accepted,
            sdp: Some(SDP.into()),
            reason: None,
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"update","state":"accepted","sdp":"v=0\r\n..."}"#,
    );
}

#[test]
fn session_update_failed() {
    // Defined in the model (never sent by S): state, optional sdp and reason.
    check(
        sess(SessionEvent::Update {
            state: UpdateState::Failed,
            sdp: None,
            reason: Some("488 Not Acceptable Here".into()),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"update","state":"failed","reason":"488 Not Acceptable Here"}"#,
    );
    check(
        sess(SessionEvent::Update {
            state: UpdateState::Failed,
            sdp: None,
            reason: None,
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"update","state":"failed"}"#,
    );
}

#[test]
fn session_message() {
    check(
        sess(SessionEvent::Message {
            sender: bob(),
            timestamp: TS.into(),
            disposition_notification: None,
            message_id: "1b2c...".into(),
            content_type: "text/plain".into(),
            content: "hi".into(),
            direction: None,
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"message","sender":{"uri":"bob@example.com","display_name":"Bob"},"timestamp":"2026-07-17T10:41:52+02:00","disposition_notification":null,"message_id":"1b2c...","content_type":"text/plain","content":"hi"}"#,
    );
    check(
        sess(SessionEvent::Message {
            sender: bob(),
            timestamp: TS.into(),
            disposition_notification: Some(vec!["positive-delivery".into()]),
            message_id: "1b2c...".into(),
            content_type: "text/plain".into(),
            content: "hi".into(),
            direction: Some("incoming".into()),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"message","sender":{"uri":"bob@example.com","display_name":"Bob"},"timestamp":"2026-07-17T10:41:52+02:00","disposition_notification":["positive-delivery"],"message_id":"1b2c...","content_type":"text/plain","content":"hi","direction":"incoming"}"#,
    );
}

#[test]
fn session_disposition_notification() {
    check(
        sess(SessionEvent::DispositionNotification {
            message_id: "1b2c...".into(),
            message_timestamp: TS.into(),
            state: "accepted".into(),
            code: 200,
            reason: "OK".into(),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"disposition-notification","message_id":"1b2c...","message_timestamp":"2026-07-17T10:41:52+02:00","state":"accepted","code":200,"reason":"OK"}"#,
    );
    check(
        sess(SessionEvent::DispositionNotification {
            message_id: "1b2c...".into(),
            message_timestamp: TS.into(),
            state: "failed".into(),
            code: 408,
            reason: "Request Timeout".into(),
        }),
        r#"{"sylkrtc":"session-event","session":"5e7a...","event":"disposition-notification","message_id":"1b2c...","message_timestamp":"2026-07-17T10:41:52+02:00","state":"failed","code":408,"reason":"Request Timeout"}"#,
    );
}

// ---------------------------------------------------------------------------------------------
// §3.4 videoroom-event
// ---------------------------------------------------------------------------------------------

#[test]
fn room_session_state_progress() {
    check(
        room_state(RoomSessionState::Progress),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"progress"}"#,
    );
}

#[test]
fn room_session_state_accepted() {
    check(
        room_state(RoomSessionState::Accepted {
            sdp: SDP.into(),
            audio: true,
            video: true,
            duration: None,
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"accepted","sdp":"v=0\r\n...","video":true,"audio":true}"#,
    );
    // audio/video are always emitted (non-None default).
    check(
        room_state(RoomSessionState::Accepted {
            sdp: SDP.into(),
            audio: true,
            video: false,
            duration: None,
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"accepted","sdp":"v=0\r\n...","video":false,"audio":true}"#,
    );
}

#[test]
fn room_session_state_established() {
    check(
        room_state(RoomSessionState::Established),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"established"}"#,
    );
}

#[test]
fn room_session_state_terminated() {
    check(
        room_state(RoomSessionState::Terminated { reason: None }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"terminated"}"#,
    );
    check(
        room_state(RoomSessionState::Terminated {
            reason: Some("bye".into()),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"terminated","reason":"bye"}"#,
    );
}

#[test]
fn initial_publishers() {
    check(
        room(VideoroomEvent::InitialPublishers {
            publishers: vec![publisher("c3d4...", "bob@example.com", "Bob")],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"initial-publishers","publishers":[{"id":"c3d4...","uri":"bob@example.com","display_name":"Bob"}]}"#,
    );
    check(
        room(VideoroomEvent::InitialPublishers { publishers: vec![] }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"initial-publishers","publishers":[]}"#,
    );
}

#[test]
fn publishers_joined() {
    check(
        room(VideoroomEvent::PublishersJoined {
            publishers: vec![publisher("e5f6...", "carol@example.com", "")],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"publishers-joined","publishers":[{"id":"e5f6...","uri":"carol@example.com","display_name":""}]}"#,
    );
    // The list may be empty (race).
    check(
        room(VideoroomEvent::PublishersJoined { publishers: vec![] }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"publishers-joined","publishers":[]}"#,
    );
}

#[test]
fn publishers_left() {
    check(
        room(VideoroomEvent::PublishersLeft {
            publishers: vec!["c3d4...".into()],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"publishers-left","publishers":["c3d4..."]}"#,
    );
}

#[test]
fn feed_attached() {
    check(
        room(VideoroomEvent::FeedAttached {
            feed: "9f8e...".into(),
            sdp: SDP.into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"feed-attached","feed":"9f8e...","sdp":"v=0\r\n..."}"#,
    );
}

#[test]
fn feed_established() {
    check(
        room(VideoroomEvent::FeedEstablished {
            feed: "9f8e...".into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"feed-established","feed":"9f8e..."}"#,
    );
}

#[test]
fn configure() {
    check(
        room(VideoroomEvent::Configure {
            originator: "videoroom".into(),
            active_participants: vec!["c3d4...".into()],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"configure","originator":"videoroom","active_participants":["c3d4..."]}"#,
    );
    check(
        room(VideoroomEvent::Configure {
            originator: "a1b2...".into(),
            active_participants: vec![],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"configure","originator":"a1b2...","active_participants":[]}"#,
    );
}

#[test]
fn file_sharing() {
    check(
        room(VideoroomEvent::FileSharing {
            files: vec![SharedFile {
                filename: "slides.pdf".into(),
                filesize: 48213,
                uploader: bob(),
                session: "c3d4...".into(),
            }],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"file-sharing","files":[{"filename":"slides.pdf","filesize":48213,"uploader":{"uri":"bob@example.com","display_name":"Bob"},"session":"c3d4..."}]}"#,
    );
}

#[test]
fn room_message() {
    check(
        room(VideoroomEvent::Message {
            kind: ChatMessageType::Normal,
            content: "hi all".into(),
            content_type: "text/plain".into(),
            sender: bob(),
            timestamp: TS.into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"message","type":"normal","content":"hi all","content_type":"text/plain","sender":{"uri":"bob@example.com","display_name":"Bob"},"timestamp":"2026-07-17T10:41:52+02:00"}"#,
    );
    check(
        room(VideoroomEvent::Message {
            kind: ChatMessageType::Status,
            content: "Bob joined".into(),
            content_type: "text/plain".into(),
            sender: id("room1@conference.example.com", None),
            timestamp: TS.into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"message","type":"status","content":"Bob joined","content_type":"text/plain","sender":{"uri":"room1@conference.example.com","display_name":null},"timestamp":"2026-07-17T10:41:52+02:00"}"#,
    );
}

#[test]
fn composing_indication() {
    check(
        room(VideoroomEvent::ComposingIndication {
            state: "active".into(),
            refresh: 60,
            content_type: "text/plain".into(),
            sender: bob(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"composing-indication","state":"active","refresh":60,"content_type":"text/plain","sender":{"uri":"bob@example.com","display_name":"Bob"}}"#,
    );
}

#[test]
fn message_delivery() {
    check(
        room(VideoroomEvent::MessageDelivery {
            message_id: "77aa...".into(),
            delivered: true,
            code: 200,
            reason: "OK".into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"message-delivery","message_id":"77aa...","delivered":true,"code":200,"reason":"OK"}"#,
    );
    check(
        room(VideoroomEvent::MessageDelivery {
            message_id: "77aa...".into(),
            delivered: false,
            code: 0,
            reason: "Chat session ended".into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"message-delivery","message_id":"77aa...","delivered":false,"code":0,"reason":"Chat session ended"}"#,
    );
}

#[test]
fn mute_audio() {
    check(
        room(VideoroomEvent::MuteAudio {
            originator: "c3d4...".into(),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"mute-audio","originator":"c3d4..."}"#,
    );
}

#[test]
fn raised_hands() {
    check(
        room(VideoroomEvent::RaisedHands {
            raised_hands: vec!["c3d4...".into(), "a1b2...".into()],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"raised-hands","raised_hands":["c3d4...","a1b2..."]}"#,
    );
    check(
        room(VideoroomEvent::RaisedHands {
            raised_hands: vec![],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"raised-hands","raised_hands":[]}"#,
    );
}

// ---------------------------------------------------------------------------------------------
// Appendix A
// ---------------------------------------------------------------------------------------------

#[test]
fn appendix_a_conference_participants() {
    let participants = json!([{
        "type": "bridge",
        "uri": "audio-bridge@conference.example.com",
        "display_name": "Bridge",
        "endpoints": [{
            "uri": "bob@example.com",
            "display_name": "Bob",
            "status": "connected",
            "media": [{"type": "audio", "status": "sendrecv"}],
            "participant_id": "p1",
            "muted": false
        }],
        "admin_endpoint_url": "https://focus.example.com/admin",
        "admin_endpoint_token": "tok",
        "audio_levels_udp_endpoint": "192.0.2.5:9999"
    }]);
    check(
        room(VideoroomEvent::ConferenceParticipants {
            participants: participants.as_array().unwrap().clone(),
            duration: Some(42),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"conference-participants","participants":[{"type":"bridge","uri":"audio-bridge@conference.example.com","display_name":"Bridge","endpoints":[{"uri":"bob@example.com","display_name":"Bob","status":"connected","media":[{"type":"audio","status":"sendrecv"}],"participant_id":"p1","muted":false}],"admin_endpoint_url":"https://focus.example.com/admin","admin_endpoint_token":"tok","audio_levels_udp_endpoint":"192.0.2.5:9999"}],"duration":42}"#,
    );
    check(
        room(VideoroomEvent::ConferenceParticipants {
            participants: vec![],
            duration: None,
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"conference-participants","participants":[]}"#,
    );
}

#[test]
fn appendix_a_conference_audio_levels() {
    check(
        room(VideoroomEvent::ConferenceAudioLevels {
            levels: vec![
                AudioLevel {
                    participant_id: "p1".into(),
                    tx: Some(10),
                    rx: Some(200),
                    tx_peak: Some(12),
                    rx_peak: Some(255),
                },
                AudioLevel {
                    participant_id: "p2".into(),
                    tx: None,
                    rx: Some(0),
                    tx_peak: None,
                    rx_peak: None,
                },
            ],
            ts: Some(1_784_277_712_250),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"conference-audio-levels","levels":[{"participant_id":"p1","tx":10,"rx":200,"tx_peak":12,"rx_peak":255},{"participant_id":"p2","rx":0}],"ts":1784277712250}"#,
    );
    check(
        room(VideoroomEvent::ConferenceAudioLevels {
            levels: vec![],
            ts: None,
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"conference-audio-levels","levels":[]}"#,
    );
}

#[test]
fn appendix_a_invite_status() {
    check(
        room(VideoroomEvent::InviteStatus {
            participant: "bob@example.com".into(),
            state: "failed".into(),
            code: Some(486),
            reason: Some("Busy Here".into()),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"invite-status","participant":"bob@example.com","state":"failed","code":486,"reason":"Busy Here"}"#,
    );
    for s in ["progress", "success"] {
        check(
            room(VideoroomEvent::InviteStatus {
                participant: "bob@example.com".into(),
                state: s.into(),
                code: None,
                reason: None,
            }),
            &format!(
                r#"{{"sylkrtc":"videoroom-event","session":"a1b2...","event":"invite-status","participant":"bob@example.com","state":"{s}"}}"#
            ),
        );
    }
}

#[test]
fn appendix_a_mute_request() {
    check(
        room(VideoroomEvent::MuteRequest {
            muted: true,
            originator: Some("c3d4...".into()),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"mute-request","muted":true,"originator":"c3d4..."}"#,
    );
    check(
        room(VideoroomEvent::MuteRequest {
            muted: false,
            originator: None,
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"mute-request","muted":false}"#,
    );
}

#[test]
fn appendix_a_publisher_updated() {
    check(
        room(VideoroomEvent::PublisherUpdated {
            publisher: "c3d4...".into(),
            muted: true,
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"publisher-updated","publisher":"c3d4...","muted":true}"#,
    );
}

#[test]
fn appendix_a_accepted_duration_and_publisher_fields() {
    check(
        room_state(RoomSessionState::Accepted {
            sdp: SDP.into(),
            audio: true,
            video: true,
            duration: Some(75),
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"session-state","state":"accepted","sdp":"v=0\r\n...","video":true,"audio":true,"duration":75}"#,
    );
    check(
        room(VideoroomEvent::PublishersJoined {
            publishers: vec![
                Publisher {
                    kind: Some("sip".into()),
                    muted: Some(true),
                    ..publisher("e5f6...", "carol@example.com", "Carol")
                },
                Publisher {
                    kind: Some("webrtc".into()),
                    muted: Some(false),
                    ..publisher("c3d4...", "bob@example.com", "Bob")
                },
            ],
        }),
        r#"{"sylkrtc":"videoroom-event","session":"a1b2...","event":"publishers-joined","publishers":[{"id":"e5f6...","uri":"carol@example.com","display_name":"Carol","type":"sip","muted":true},{"id":"c3d4...","uri":"bob@example.com","display_name":"Bob","type":"webrtc","muted":false}]}"#,
    );
}

// ---------------------------------------------------------------------------------------------
// §0 serialisation conventions
// ---------------------------------------------------------------------------------------------

#[test]
fn display_name_null_is_emitted() {
    let text = acc(AccountEvent::MissedSession {
        originator: id("bob@example.com", None),
    })
    .to_json();
    assert!(text.contains(r#""display_name":null"#), "{text}");
}

#[test]
fn non_ascii_is_escaped_like_python() {
    let e = acc(AccountEvent::MissedSession {
        originator: id("bob@example.com", Some("café")),
    });
    let text = e.to_json();
    assert!(text.contains(r#""display_name":"caf\u00e9""#), "{text}");
    assert!(!text.contains('é'));
    check(
        e,
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"missed-session","originator":{"uri":"bob@example.com","display_name":"café"}}"#,
    );

    // Outside the BMP: a surrogate pair.
    let e = room(VideoroomEvent::Message {
        kind: ChatMessageType::Normal,
        content: "hi 😀!".into(),
        content_type: "text/plain".into(),
        sender: bob(),
        timestamp: TS.into(),
    });
    let text = e.to_json();
    assert!(text.contains(r#""content":"hi \ud83d\ude00!""#), "{text}");
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["content"], json!("hi 😀!"));

    // Other ranges, in keys and values alike; ASCII controls keep JSON escapes.
    let e = acc(AccountEvent::Sync {
        kind: "message".into(),
        action: "add".into(),
        content: json!({"ключ": "中文\u{7f}\u{80}\u{ffff}\n\t\"\\/"}),
    });
    let text = e.to_json();
    assert!(text.is_ascii(), "{text}");
    assert!(
        text.contains(r#""\u043a\u043b\u044e\u0447":"\u4e2d\u6587"#),
        "{text}"
    );
    assert!(text.contains(r#"\u0080\uffff\n\t\"\\/"#), "{text}");
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        back["content"]["ключ"],
        json!("中文\u{7f}\u{80}\u{ffff}\n\t\"\\/")
    );

    // And to_ascii_json on its own.
    assert_eq!(to_ascii_json("é😀"), r#""\u00e9\ud83d\ude00""#);
    assert_eq!(to_ascii_json(&json!({"a": "b"})), r#"{"a":"b"}"#);
}

/// §0: "Optional property that was never set is omitted." Check each optional field of every
/// event that has one (the unset variant carries no such key at all).
#[test]
fn unset_optionals_are_omitted() {
    let keys = |e: Event| -> Vec<String> {
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    };
    let k = keys(state(CallState::EarlyMedia {
        sdp: None,
        call_id: None,
    }));
    assert_eq!(k.len(), 4, "{k:?}");
    let k = keys(acc(AccountEvent::Message {
        sender: bob(),
        timestamp: TS.into(),
        disposition_notification: None,
        message_id: "m".into(),
        content_type: "text/plain".into(),
        content: "x".into(),
        direction: None,
    }));
    assert!(!k.contains(&"direction".to_string()), "{k:?}");
    assert!(k.contains(&"disposition_notification".to_string()), "{k:?}");
    let k = keys(acc(AccountEvent::AddressbookUpdated {
        kind: "contact".into(),
        action: "delete".into(),
        contact: None,
        group: None,
        policy: None,
    }));
    for absent in ["contact", "group", "policy"] {
        assert!(!k.contains(&absent.to_string()), "{k:?}");
    }
}

/// §0 `DisplayNameValidator` "strips surrounding double quotes and spaces"; server-emitted
/// identities go through `AORValidator`, so their `uri` has no scheme.
#[test]
fn identity_normalisation() {
    let i = Identity::new("sip:bob@example.com", Some("\"Bob\""));
    assert_eq!(i, id("bob@example.com", Some("Bob")));
    let i = Identity::new("sips:bob@example.com", Some("Bob"));
    assert_eq!(i, id("bob@example.com", Some("Bob")));
    let i = Identity::new("bob@example.com", None);
    assert_eq!(i, id("bob@example.com", None));
    check(
        acc(AccountEvent::MissedSession {
            originator: Identity::new("sip:bob@example.com", Some("\"Bob\"")),
        }),
        r#"{"sylkrtc":"account-event","account":"alice@example.com","event":"missed-session","originator":{"uri":"bob@example.com","display_name":"Bob"}}"#,
    );
}

#[test]
fn identity_display_name_strips_surrounding_spaces() {
    assert_eq!(
        Identity::new("bob@example.com", Some(" \"Bob\" ")).display_name,
        Some("Bob".into())
    );
    assert_eq!(
        Identity::new("bob@example.com", Some(" Bob ")).display_name,
        Some("Bob".into())
    );
}
