//! The embedded backend (SQLite, WAL), the default.
//!
//! Durability: every write is one transaction committed with `synchronous = FULL`, so when a
//! method returns `Ok`, what it wrote survives a crash or a kill. The schema is versioned
//! (`PRAGMA user_version`) and migrated forward at open.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use super::{Backend, Entry, PushToken, Result, StoreError, SCHEMA_VERSION};

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

pub struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens (or creates) the store at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Sqlite> {
        Sqlite::setup(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Sqlite> {
        Sqlite::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Sqlite> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Sqlite {
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
}

impl Backend for Sqlite {
    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    // --- accounts known to storage ------------------------------------------------------

    fn add_account(&self, account: &str, now: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO accounts (account, last_login) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET last_login = excluded.last_login",
            params![account, now],
        )?;
        Ok(())
    }

    fn is_known(&self, account: &str) -> Result<bool> {
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
    fn add(&self, e: &Entry) -> Result<bool> {
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

    fn get(&self, account: &str, message_id: &str) -> Result<Option<Entry>> {
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
    fn journal(
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
    fn set_state(
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
    fn advance_state(&self, account: &str, message_id: &str, state: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE messages SET state = ?3 WHERE account = ?1 AND message_id = ?2
             AND state = 'pending'",
            params![account, message_id, state],
        )?;
        Ok(n == 1)
    }

    /// Incoming messages not yet delivered or read (the push badge).
    fn unread(&self, account: &str) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM messages WHERE account = ?1 AND direction = 'incoming'
             AND state = 'received'",
            [account],
            |r| r.get(0),
        )?)
    }

    /// Clears the pending dispositions of the conversation with `contact` (marked read).
    fn clear_disposition(&self, account: &str, contact: &str) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE messages SET disposition = '[]' WHERE account = ?1 AND contact = ?2
             AND disposition IS NOT NULL AND disposition != '[]'",
            params![account, contact],
        )?)
    }

    /// Deletes one message; returns it if it existed.
    fn remove(&self, account: &str, message_id: &str) -> Result<Option<Entry>> {
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
    fn remove_conversation(&self, account: &str, contact: &str) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM messages WHERE account = ?1 AND contact = ?2 AND direction != ''",
            params![account, contact],
        )?)
    }

    // --- push tokens ---------------------------------------------------------------------

    fn set_token(&self, account: &str, t: &PushToken) -> Result<()> {
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

    fn remove_token(&self, account: &str, app: &str, device: &str) -> Result<bool> {
        let n = self.conn().execute(
            "DELETE FROM push_tokens WHERE account = ?1 AND app = ?2 AND device = ?3",
            params![account, app, device],
        )?;
        Ok(n == 1)
    }

    fn tokens(&self, account: &str) -> Result<Vec<PushToken>> {
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

    fn set_public_key(&self, account: &str, key: &str, now: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO public_keys (account, content, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account) DO UPDATE SET content = excluded.content,
                created_at = excluded.created_at",
            params![account, key, now],
        )?;
        Ok(())
    }

    fn public_key(&self, account: &str) -> Result<Option<String>> {
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
    fn addressbook(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT book FROM addressbooks WHERE account = ?1",
                [account],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_addressbook(&self, account: &str, book: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO addressbooks (account, book) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET book = excluded.book",
            params![account, book],
        )?;
        Ok(())
    }

    fn add_api_token(&self, account: &str, token: &str, expires: i64) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO api_tokens (token, account, expires) VALUES (?1, ?2, ?3)",
            params![token, account, expires],
        )?;
        Ok(())
    }

    /// Whether `token` is a live API token of `account` at unix time `now`.
    fn api_token_valid(&self, account: &str, token: &str, now: i64) -> Result<bool> {
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
