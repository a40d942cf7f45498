//! The storage test suite, run on both backends: the embedded SQLite store and PostgreSQL
//! (a throwaway server from the Debian package, on loopback).

mod common;

use std::sync::Arc;

use common::engines::Postgres;
use sylk_gateway::storage::{Entry, PushToken, Store, StoreError, SCHEMA_VERSION};

const A: &str = "alice@example.com";

fn entry(id: &str, contact: &str, created_at: &str) -> Entry {
    Entry {
        account: A.into(),
        message_id: id.into(),
        contact: contact.into(),
        direction: Some("outgoing".into()),
        content_type: "text/plain".into(),
        content: format!("hello {id}"),
        disposition: Some(vec!["positive-delivery".into(), "display".into()]),
        state: Some("pending".into()),
        timestamp: "2026-07-17T08:41:52.123Z".into(),
        created_at: created_at.into(),
    }
}

/// Runs `case` on a fresh SQLite store and a fresh PostgreSQL database.
fn on_both(case: fn(&Store)) {
    case(&Store::open_in_memory().unwrap());
    let pg = Postgres::start();
    let store = Store::connect(&pg.database("suite"), 4).unwrap();
    assert_eq!(store.kind, "postgres");
    case(&store);
}

fn journal_selection_follows_the_spec(s: &Store) {
    for (i, c) in ["m1", "m2", "m3", "m4"].iter().enumerate() {
        let t = format!("2026-11-22T00:00:0{i}.000+00:00");
        assert!(s.add(&entry(c, "bob@example.com", &t)).unwrap());
    }
    // A duplicate id is ignored.
    assert!(!s
        .add(&entry(
            "m2",
            "bob@example.com",
            "2026-11-22T01:00:00.000+00:00"
        ))
        .unwrap());
    let ids = |v: Vec<Entry>| v.into_iter().map(|e| e.message_id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.journal(A, None, None, 5000).unwrap()),
        ["m1", "m2", "m3", "m4"]
    );
    assert_eq!(
        ids(s.journal(A, Some("m2"), None, 5000).unwrap()),
        ["m3", "m4"]
    );
    // Unknown id: since applies, else everything.
    assert_eq!(
        ids(s
            .journal(A, Some("zz"), Some("2026-11-22T00:00:01.500+00:00"), 5000)
            .unwrap()),
        ["m3", "m4"]
    );
    assert_eq!(ids(s.journal(A, Some("zz"), None, 5000).unwrap()).len(), 4);
    assert_eq!(ids(s.journal(A, None, None, 2).unwrap()), ["m1", "m2"]);
    assert_eq!(ids(s.journal(A, None, None, -1).unwrap()).len(), 0);
    assert!(s
        .journal("other@example.com", None, None, 10)
        .unwrap()
        .is_empty());
    // The entry comes back as it went in.
    assert_eq!(
        s.get(A, "m1").unwrap().unwrap(),
        entry("m1", "bob@example.com", "2026-11-22T00:00:00.000+00:00")
    );
}

#[test]
fn journal_selection_follows_the_spec_on_both_backends() {
    on_both(journal_selection_follows_the_spec);
}

fn state_read_and_removal(s: &Store) {
    s.add(&entry("m1", "bob@example.com", "t1")).unwrap();
    s.add(&entry("m2", "carol@example.com", "t2")).unwrap();
    assert!(s
        .set_state(A, "m1", "delivered", Some(&["display".to_string()]))
        .unwrap());
    let e = s.get(A, "m1").unwrap().unwrap();
    assert_eq!(e.state.as_deref(), Some("delivered"));
    assert_eq!(e.disposition, Some(vec!["display".to_string()]));
    assert!(!s.set_state(A, "nope", "delivered", None).unwrap());
    // A report that came first is not overwritten by the SIP outcome.
    assert!(!s.advance_state(A, "m1", "accepted").unwrap());
    assert!(s.advance_state(A, "m2", "accepted").unwrap());
    assert_eq!(s.clear_disposition(A, "bob@example.com").unwrap(), 1);
    assert_eq!(s.get(A, "m1").unwrap().unwrap().disposition, Some(vec![]));
    assert_eq!(
        s.remove(A, "m2").unwrap().unwrap().contact,
        "carol@example.com"
    );
    assert!(s.remove(A, "m2").unwrap().is_none());
    assert_eq!(s.remove_conversation(A, "bob@example.com").unwrap(), 1);
    assert!(s.journal(A, None, None, 10).unwrap().is_empty());
    // Unread: incoming messages still `received`.
    let mut incoming = entry("m3", "bob@example.com", "t3");
    incoming.direction = Some("incoming".into());
    incoming.state = Some("received".into());
    s.add(&incoming).unwrap();
    assert_eq!(s.unread(A).unwrap(), 1);
    s.set_state(A, "m3", "displayed", None).unwrap();
    assert_eq!(s.unread(A).unwrap(), 0);
}

#[test]
fn state_read_and_removal_on_both_backends() {
    on_both(state_read_and_removal);
}

fn accounts_tokens_keys_books(s: &Store) {
    assert!(!s.is_known(A).unwrap());
    s.add_account(A, "now").unwrap();
    s.add_account(A, "later").unwrap();
    assert!(s.is_known(A).unwrap());
    let t = PushToken {
        app: "com.example".into(),
        device: "d1".into(),
        platform: "android".into(),
        silent: false,
        token: "tok".into(),
        background_token: None,
        user_agent: Some("ua".into()),
    };
    s.set_token(A, &t).unwrap();
    let t2 = PushToken {
        token: "tok2".into(),
        silent: true,
        ..t.clone()
    };
    s.set_token(A, &t2).unwrap();
    assert_eq!(s.tokens(A).unwrap(), vec![t2]);
    assert!(s.remove_token(A, "com.example", "d1").unwrap());
    assert!(!s.remove_token(A, "com.example", "d1").unwrap());
    assert!(s.tokens(A).unwrap().is_empty());
    assert_eq!(s.public_key(A).unwrap(), None);
    s.set_public_key(A, "-----BEGIN PGP", "now").unwrap();
    s.set_public_key(A, "-----BEGIN PGP 2", "later").unwrap();
    assert_eq!(
        s.public_key(A).unwrap().as_deref(),
        Some("-----BEGIN PGP 2")
    );
    assert_eq!(s.addressbook(A).unwrap(), None);
    s.set_addressbook(A, r#"{"contacts":[],"groups":[],"policies":[]}"#)
        .unwrap();
    assert!(s.addressbook(A).unwrap().unwrap().contains("contacts"));
    s.add_api_token(A, "secret", 1000).unwrap();
    assert!(s.api_token_valid(A, "secret", 999).unwrap());
    assert!(!s.api_token_valid(A, "secret", 1000).unwrap());
    assert!(!s.api_token_valid(A, "wrong", 1).unwrap());
    assert!(!s.api_token_valid("bob@example.com", "secret", 1).unwrap());
    s.add_api_token(A, "secret", 2000).unwrap();
    assert!(s.api_token_valid(A, "secret", 1999).unwrap());
    // Text is kept as sent (quotes, newlines, non-ASCII).
    let mut odd = entry("m'1", "bob@example.com", "t1");
    odd.content = "it's \"ünïcødé\"\n; DROP TABLE messages; --".into();
    assert!(s.add(&odd).unwrap());
    assert_eq!(s.get(A, "m'1").unwrap().unwrap(), odd);
}

#[test]
fn accounts_tokens_keys_books_on_both_backends() {
    on_both(accounts_tokens_keys_books);
}

#[test]
fn a_sqlite_file_store_keeps_data_and_version_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    {
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        s.add(&entry("m1", "bob@example.com", "t1")).unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(s.journal(A, None, None, 10).unwrap().len(), 1);
    drop(s);
    // A store from a newer gateway is refused, not damaged.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(Store::open(&path), Err(StoreError::TooNew(99))));
}

/// What several gateways sharing one PostgreSQL database rely on: the schema is migrated
/// once (however many start together), a message stored by one is seen by the other, a
/// message both receive is stored once (the one whose insert wins delivers it), and a newer
/// schema is refused.
#[test]
fn gateways_share_one_postgres_store() {
    let pg = Postgres::start();
    let url = pg.database("shared");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Store::connect(&url, 2).unwrap())
        })
        .collect();
    let stores: Vec<Arc<Store>> = starts
        .into_iter()
        .map(|t| Arc::new(t.join().unwrap()))
        .collect();
    assert_eq!(stores[0].schema_version().unwrap(), SCHEMA_VERSION);
    assert!(stores[0]
        .add(&entry("m1", "bob@example.com", "t1"))
        .unwrap());
    assert_eq!(stores[1].journal(A, None, None, 10).unwrap().len(), 1);
    // The same message offered by every node at once: exactly one insert wins.
    let wins: usize = stores
        .iter()
        .map(|s| {
            let s = s.clone();
            std::thread::spawn(move || s.add(&entry("m2", "bob@example.com", "t2")).unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap() as usize)
        .sum();
    assert_eq!(wins, 1);
    // Many blocking calls from many threads share the pool.
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let s = stores[i % 4].clone();
            std::thread::spawn(move || {
                s.add(&entry(&format!("p{i}"), "carol@example.com", "t3"))
                    .unwrap()
            })
        })
        .collect();
    assert!(calls.into_iter().all(|t| t.join().unwrap()));
    assert_eq!(stores[3].journal(A, None, None, 100).unwrap().len(), 34);
    drop(stores);
    psql(&url, "UPDATE schema_version SET version = 99");
    assert!(matches!(
        Store::connect(&url, 1),
        Err(StoreError::TooNew(99))
    ));
    // A bad URL is a clear error, not a panic.
    assert!(matches!(
        Store::connect("mysql://x", 1),
        Err(StoreError::Url(_))
    ));
    assert!(Store::connect(&pg.url("no_such_db"), 1).is_err());
    // Nothing listening: an error at once, not a hang.
    assert!(Store::connect("postgres://postgres@127.0.0.1:1/x", 1).is_err());
}

/// Runs SQL on a database with `psql`.
fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([url, "-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
