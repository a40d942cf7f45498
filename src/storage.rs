//! The embedded store (SQLite, WAL): accounts known to storage, the message journal of
//! protocol §6, push tokens, public keys, addressbooks and API tokens.
//!
//! Durability: every write is one transaction committed with `synchronous = FULL`, so when a
//! method returns `Ok`, what it wrote survives a crash or a kill; the caller may ack then.
//! The schema is versioned (`PRAGMA user_version`) and migrated forward at open.
//!
//! Calls block on SQLite: from async code, run them with `spawn_blocking`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

/// The schema this code writes; older stores are migrated up to it at open.
pub const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE accounts (
        account TEXT PRIMARY KEY,
        last_login TEXT NOT NULL
     );
     CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        message_id TEXT NOT NULL,
        contact TEXT NOT NULL,
        direction TEXT,
        content_type TEXT NOT NULL,
        content TEXT NOT NULL,
        disposition TEXT,
        state TEXT,
        msg_timestamp TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (account, message_id)
     );
     CREATE INDEX messages_by_contact ON messages (account, contact);
     CREATE TABLE push_tokens (
        account TEXT NOT NULL,
        app TEXT NOT NULL,
        device TEXT NOT NULL,
        platform TEXT NOT NULL,
        silent INTEGER NOT NULL,
        token TEXT NOT NULL,
        background_token TEXT,
        user_agent TEXT,
        PRIMARY KEY (account, app, device)
     );
     CREATE TABLE public_keys (
        account TEXT PRIMARY KEY,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL
     );
     CREATE TABLE addressbooks (
        account TEXT PRIMARY KEY,
        book TEXT NOT NULL
     );
     CREATE TABLE api_tokens (
        token TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        expires INTEGER NOT NULL
     );",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "storage: the store has schema version {0}, newer than this gateway's {SCHEMA_VERSION}"
    )]
    TooNew(i64),
}

type Result<T> = std::result::Result<T, StoreError>;

/// A journal entry as stored (the `Message` model of the protocol, plus storage fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub account: String,
    pub message_id: String,
    pub contact: String,
    /// `incoming`, `outgoing`, or `""` for read/remove journal entries.
    pub direction: Option<String>,
    pub content_type: String,
    pub content: String,
    /// Pending disposition requests (`positive-delivery`, `display`), or none.
    pub disposition: Option<Vec<String>>,
    pub state: Option<String>,
    /// The message's own timestamp.
    pub timestamp: String,
    /// When the store took it (server time).
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushToken {
    pub app: String,
    pub device: String,
    pub platform: String,
    pub silent: bool,
    pub token: String,
    pub background_token: Option<String>,
    pub user_agent: Option<String>,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (or creates) the store at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        Store::setup(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store {
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "storage schema migrated");
        }
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // SQLite keeps its own consistency; a panic elsewhere cannot leave it half-written.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    // --- accounts known to storage ------------------------------------------------------

    pub fn add_account(&self, account: &str, now: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO accounts (account, last_login) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET last_login = excluded.last_login",
            params![account, now],
        )?;
        Ok(())
    }

    pub fn is_known(&self, account: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM accounts WHERE account = ?1",
                [account],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    // --- the journal -----------------------------------------------------------------------

    /// Stores an entry; `false` when the account already has this message id (ignored).
    pub fn add(&self, e: &Entry) -> Result<bool> {
        let disposition = e
            .disposition
            .as_ref()
            .map(|d| serde_json::to_string(d).unwrap_or_default());
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO messages (account, message_id, contact, direction,
                content_type, content, disposition, state, msg_timestamp, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                e.account,
                e.message_id,
                e.contact,
                e.direction,
                e.content_type,
                e.content,
                disposition,
                e.state,
                e.timestamp,
                e.created_at
            ],
        )?;
        Ok(n == 1)
    }

    pub fn get(&self, account: &str, message_id: &str) -> Result<Option<Entry>> {
        Ok(self
            .conn()
            .query_row(
                &format!("{SELECT} WHERE account = ?1 AND message_id = ?2"),
                params![account, message_id],
                row_entry,
            )
            .optional()?)
    }

    /// The journal of `account`, oldest first, at most `limit` entries: after the entry
    /// `message_id` when it is known; else after `since` (a timestamp of the store's format)
    /// when given; else all.
    pub fn journal(
        &self,
        account: &str,
        message_id: Option<&str>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let conn = self.conn();
        let after: Option<i64> = match message_id {
            Some(id) => conn
                .query_row(
                    "SELECT seq FROM messages WHERE account = ?1 AND message_id = ?2",
                    params![account, id],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        let limit = limit.max(0);
        let mut out = Vec::new();
        match (after, since) {
            (Some(seq), _) => {
                let mut st = conn.prepare(&format!(
                    "{SELECT} WHERE account = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                ))?;
                for e in st.query_map(params![account, seq, limit], row_entry)? {
                    out.push(e?);
                }
            }
            (None, Some(since)) => {
                let mut st = conn.prepare(&format!(
                    "{SELECT} WHERE account = ?1 AND created_at > ?2 ORDER BY seq LIMIT ?3"
                ))?;
                for e in st.query_map(params![account, since, limit], row_entry)? {
                    out.push(e?);
                }
            }
            (None, None) => {
                let mut st = conn.prepare(&format!(
                    "{SELECT} WHERE account = ?1 ORDER BY seq LIMIT ?2"
                ))?;
                for e in st.query_map(params![account, limit], row_entry)? {
                    out.push(e?);
                }
            }
        }
        Ok(out)
    }

    /// Sets a message's state and, if given, its pending disposition requests.
    pub fn set_state(
        &self,
        account: &str,
        message_id: &str,
        state: &str,
        disposition: Option<&[String]>,
    ) -> Result<bool> {
        let n = match disposition {
            Some(d) => self.conn().execute(
                "UPDATE messages SET state = ?3, disposition = ?4 WHERE account = ?1 AND message_id = ?2",
                params![account, message_id, state, serde_json::to_string(d).unwrap_or_default()],
            )?,
            None => self.conn().execute(
                "UPDATE messages SET state = ?3 WHERE account = ?1 AND message_id = ?2",
                params![account, message_id, state],
            )?,
        };
        Ok(n == 1)
    }

    /// Moves a message still `pending` to `state` (the SIP outcome of sending it); a message
    /// already past that (a report came first) keeps its state.
    pub fn advance_state(&self, account: &str, message_id: &str, state: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE messages SET state = ?3 WHERE account = ?1 AND message_id = ?2
             AND state = 'pending'",
            params![account, message_id, state],
        )?;
        Ok(n == 1)
    }

    /// Incoming messages not yet delivered or read (the push badge).
    pub fn unread(&self, account: &str) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM messages WHERE account = ?1 AND direction = 'incoming'
             AND state = 'received'",
            [account],
            |r| r.get(0),
        )?)
    }

    /// Clears the pending dispositions of the conversation with `contact` (marked read).
    pub fn clear_disposition(&self, account: &str, contact: &str) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE messages SET disposition = '[]' WHERE account = ?1 AND contact = ?2
             AND disposition IS NOT NULL AND disposition != '[]'",
            params![account, contact],
        )?)
    }

    /// Deletes one message; returns it if it existed.
    pub fn remove(&self, account: &str, message_id: &str) -> Result<Option<Entry>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let entry = tx
            .query_row(
                &format!("{SELECT} WHERE account = ?1 AND message_id = ?2"),
                params![account, message_id],
                row_entry,
            )
            .optional()?;
        tx.execute(
            "DELETE FROM messages WHERE account = ?1 AND message_id = ?2",
            params![account, message_id],
        )?;
        tx.commit()?;
        Ok(entry)
    }

    /// Deletes every message of the conversation with `contact`; returns how many.
    pub fn remove_conversation(&self, account: &str, contact: &str) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM messages WHERE account = ?1 AND contact = ?2 AND direction != ''",
            params![account, contact],
        )?)
    }

    // --- push tokens ---------------------------------------------------------------------

    pub fn set_token(&self, account: &str, t: &PushToken) -> Result<()> {
        self.conn().execute(
            "INSERT INTO push_tokens (account, app, device, platform, silent, token,
                background_token, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (account, app, device) DO UPDATE SET platform = excluded.platform,
                silent = excluded.silent, token = excluded.token,
                background_token = excluded.background_token, user_agent = excluded.user_agent",
            params![
                account,
                t.app,
                t.device,
                t.platform,
                t.silent,
                t.token,
                t.background_token,
                t.user_agent
            ],
        )?;
        Ok(())
    }

    pub fn remove_token(&self, account: &str, app: &str, device: &str) -> Result<bool> {
        let n = self.conn().execute(
            "DELETE FROM push_tokens WHERE account = ?1 AND app = ?2 AND device = ?3",
            params![account, app, device],
        )?;
        Ok(n == 1)
    }

    pub fn tokens(&self, account: &str) -> Result<Vec<PushToken>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT app, device, platform, silent, token, background_token, user_agent
             FROM push_tokens WHERE account = ?1 ORDER BY app, device",
        )?;
        let rows = st.query_map([account], |r| {
            Ok(PushToken {
                app: r.get(0)?,
                device: r.get(1)?,
                platform: r.get(2)?,
                silent: r.get(3)?,
                token: r.get(4)?,
                background_token: r.get(5)?,
                user_agent: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    // --- public keys, addressbooks, API tokens -----------------------------------------

    pub fn set_public_key(&self, account: &str, key: &str, now: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO public_keys (account, content, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account) DO UPDATE SET content = excluded.content,
                created_at = excluded.created_at",
            params![account, key, now],
        )?;
        Ok(())
    }

    pub fn public_key(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT content FROM public_keys WHERE account = ?1",
                [account],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The addressbook as stored JSON (`{contacts, groups, policies}`), if any.
    pub fn addressbook(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT book FROM addressbooks WHERE account = ?1",
                [account],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_addressbook(&self, account: &str, book: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO addressbooks (account, book) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET book = excluded.book",
            params![account, book],
        )?;
        Ok(())
    }

    pub fn add_api_token(&self, account: &str, token: &str, expires: i64) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO api_tokens (token, account, expires) VALUES (?1, ?2, ?3)",
            params![token, account, expires],
        )?;
        Ok(())
    }

    /// Whether `token` is a live API token of `account` at unix time `now`.
    pub fn api_token_valid(&self, account: &str, token: &str, now: i64) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM api_tokens WHERE token = ?1 AND account = ?2 AND expires > ?3",
                params![token, account, now],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

const SELECT: &str = "SELECT account, message_id, contact, direction, content_type, content,
    disposition, state, msg_timestamp, created_at FROM messages";

fn row_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let disposition: Option<String> = r.get(6)?;
    Ok(Entry {
        account: r.get(0)?,
        message_id: r.get(1)?,
        contact: r.get(2)?,
        direction: r.get(3)?,
        content_type: r.get(4)?,
        content: r.get(5)?,
        disposition: disposition.and_then(|d| serde_json::from_str(&d).ok()),
        state: r.get(7)?,
        timestamp: r.get(8)?,
        created_at: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, contact: &str, created_at: &str) -> Entry {
        Entry {
            account: "alice@example.com".into(),
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

    const A: &str = "alice@example.com";

    #[test]
    fn journal_selection_follows_the_spec() {
        let s = Store::open_in_memory().unwrap();
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
        assert!(s
            .journal("other@example.com", None, None, 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn state_read_and_removal() {
        let s = Store::open_in_memory().unwrap();
        s.add(&entry("m1", "bob@example.com", "t1")).unwrap();
        s.add(&entry("m2", "carol@example.com", "t2")).unwrap();
        assert!(s
            .set_state(A, "m1", "delivered", Some(&["display".to_string()]))
            .unwrap());
        let e = s.get(A, "m1").unwrap().unwrap();
        assert_eq!(e.state.as_deref(), Some("delivered"));
        assert_eq!(e.disposition, Some(vec!["display".to_string()]));
        assert!(!s.set_state(A, "nope", "delivered", None).unwrap());
        assert_eq!(s.clear_disposition(A, "bob@example.com").unwrap(), 1);
        assert_eq!(s.get(A, "m1").unwrap().unwrap().disposition, Some(vec![]));
        assert_eq!(
            s.remove(A, "m2").unwrap().unwrap().contact,
            "carol@example.com"
        );
        assert!(s.remove(A, "m2").unwrap().is_none());
        assert_eq!(s.remove_conversation(A, "bob@example.com").unwrap(), 1);
        assert!(s.journal(A, None, None, 10).unwrap().is_empty());
    }

    #[test]
    fn accounts_tokens_keys_books() {
        let s = Store::open_in_memory().unwrap();
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
        s.set_token(
            A,
            &PushToken {
                token: "tok2".into(),
                ..t.clone()
            },
        )
        .unwrap();
        assert_eq!(s.tokens(A).unwrap()[0].token, "tok2");
        assert!(s.remove_token(A, "com.example", "d1").unwrap());
        assert!(s.tokens(A).unwrap().is_empty());
        assert_eq!(s.public_key(A).unwrap(), None);
        s.set_public_key(A, "-----BEGIN PGP", "now").unwrap();
        assert_eq!(s.public_key(A).unwrap().as_deref(), Some("-----BEGIN PGP"));
        s.set_addressbook(A, r#"{"contacts":[],"groups":[],"policies":[]}"#)
            .unwrap();
        assert!(s.addressbook(A).unwrap().unwrap().contains("contacts"));
        s.add_api_token(A, "secret", 1000).unwrap();
        assert!(s.api_token_valid(A, "secret", 999).unwrap());
        assert!(!s.api_token_valid(A, "secret", 1000).unwrap());
        assert!(!s.api_token_valid(A, "wrong", 1).unwrap());
        assert!(!s.api_token_valid("bob@example.com", "secret", 1).unwrap());
    }

    #[test]
    fn a_file_store_keeps_data_and_version_across_reopen() {
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
        // A store from a newer gateway is refused, not damaged.
        s.conn().pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew(99))));
    }
}
