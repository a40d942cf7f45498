//! The shared backend (PostgreSQL), for several gateways as one service.
//!
//! Each write is one statement or one transaction, committed before the method returns
//! (PostgreSQL's default `synchronous_commit = on`). The schema version is kept in a table
//! `schema_version`; gateways starting together migrate one at a time under an advisory lock.
//! Connections come from a pool, opened on demand up to a cap (a caller waits for one beyond
//! it), so blocking calls from several threads run side by side; a connection the server
//! dropped is replaced on the next call. Connecting gives up after 5 s and a statement after
//! 30 s unless the URL says otherwise, so an unreachable server is an error, not a hang.
//!
//! The journal is read "after entry X" by its sequence number, so an account's entries must
//! become visible in sequence order: `add` takes a per-account advisory lock for its
//! transaction, so two nodes (or two pooled connections) adding to one account commit in the
//! order of the numbers they drew. Text is compared and sorted byte-wise (`COLLATE "C"`), as
//! SQLite does.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use postgres::{Client, NoTls, Row};

use super::{Backend, Entry, PushToken, Result, StoreError, SCHEMA_VERSION};

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema (the same tables as SQLite's).
    "CREATE TABLE accounts (
        account TEXT PRIMARY KEY,
        last_login TEXT NOT NULL
     );
     CREATE TABLE messages (
        seq BIGSERIAL PRIMARY KEY,
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
        silent BOOLEAN NOT NULL,
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
        expires BIGINT NOT NULL
     );",
];

/// The advisory lock key under which the schema is migrated (any fixed number).
const MIGRATION_LOCK: i64 = 0x5_91c6_a7e0;

pub struct Postgres {
    config: postgres::Config,
    pool: Mutex<Pool>,
    /// Signalled when a connection is given back or closed.
    freed: Condvar,
    /// Connections open at most.
    max: usize,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Client>,
    /// Connections open, idle or lent.
    open: usize,
}

/// A connection borrowed from the pool; given back when dropped unless it broke.
struct Conn<'a> {
    client: Option<Client>,
    owner: &'a Postgres,
}

// `client` is `Some` from construction until `drop` takes it, so these never fail.
impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("taken only on drop")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("taken only on drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let mut pool = self.owner.pool();
        match self.client.take() {
            Some(client) if !client.is_closed() => pool.idle.push(client),
            _ => pool.open -= 1,
        }
        self.owner.freed.notify_one();
    }
}

/// A sync `Client` closes itself by blocking on its own runtime, which panics on a thread that
/// drives async tasks, where the last reference to the store may well go (the server's end):
/// the idle connections are closed on a thread of their own.
impl Drop for Postgres {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.pool().idle);
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl Postgres {
    /// Connects to `url`, checks and migrates the schema.
    /// `max`: connections open at most.
    pub fn connect(url: &str, max: usize) -> Result<Postgres> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            // Not the URL itself: it may hold a password.
            return Err(StoreError::Url(
                "storage_url must start with postgres:// or postgresql://".into(),
            ));
        }
        let mut config: postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives(true);
        if config.get_options().is_none() {
            config.options("-c statement_timeout=30000");
        }
        let store = Postgres {
            config,
            pool: Mutex::new(Pool::default()),
            freed: Condvar::new(),
            max: max.max(1),
        };
        store.migrate()?;
        Ok(store)
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        // Each update of the pool is one step.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection, a new one under the cap, or the next one given back.
    fn conn(&self) -> Result<Conn<'_>> {
        let mut pool = self.pool();
        loop {
            if let Some(client) = pool.idle.pop() {
                if client.is_closed() {
                    pool.open -= 1;
                    continue;
                }
                return Ok(Conn {
                    client: Some(client),
                    owner: self,
                });
            }
            if pool.open < self.max {
                pool.open += 1;
                drop(pool);
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok(Conn {
                        client: Some(client),
                        owner: self,
                    }),
                    Err(e) => {
                        self.pool().open -= 1;
                        self.freed.notify_one();
                        Err(e.into())
                    }
                };
            }
            pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let version: i64 = match tx.query_opt("SELECT version FROM schema_version", &[])? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
                0
            }
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql)?;
            tx.execute(
                "UPDATE schema_version SET version = $1",
                &[&((i + 1) as i64)],
            )?;
            tracing::info!(version = i + 1, "storage schema migrated (postgres)");
        }
        tx.commit()?;
        Ok(())
    }
}

const SELECT: &str = "SELECT account, message_id, contact, direction, content_type, content,
    disposition, state, msg_timestamp, created_at FROM messages";

fn row_entry(r: &Row) -> Entry {
    let disposition: Option<String> = r.get(6);
    Entry {
        account: r.get(0),
        message_id: r.get(1),
        contact: r.get(2),
        direction: r.get(3),
        content_type: r.get(4),
        content: r.get(5),
        disposition: disposition.and_then(|d| serde_json::from_str(&d).ok()),
        state: r.get(7),
        timestamp: r.get(8),
        created_at: r.get(9),
    }
}

impl Backend for Postgres {
    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn()?
            .query_one("SELECT version FROM schema_version", &[])?
            .get(0))
    }

    fn add_account(&self, account: &str, now: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO accounts (account, last_login) VALUES ($1, $2)
             ON CONFLICT (account) DO UPDATE SET last_login = excluded.last_login",
            &[&account, &now],
        )?;
        Ok(())
    }

    fn is_known(&self, account: &str) -> Result<bool> {
        Ok(self
            .conn()?
            .query_opt("SELECT 1 FROM accounts WHERE account = $1", &[&account])?
            .is_some())
    }

    fn add(&self, e: &Entry) -> Result<bool> {
        let disposition = e
            .disposition
            .as_ref()
            .map(|d| serde_json::to_string(d).unwrap_or_default());
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        // Entries of one account commit in the order of their sequence numbers.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&e.account],
        )?;
        let n = tx.execute(
            "INSERT INTO messages (account, message_id, contact, direction,
                content_type, content, disposition, state, msg_timestamp, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (account, message_id) DO NOTHING",
            &[
                &e.account,
                &e.message_id,
                &e.contact,
                &e.direction,
                &e.content_type,
                &e.content,
                &disposition,
                &e.state,
                &e.timestamp,
                &e.created_at,
            ],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn get(&self, account: &str, message_id: &str) -> Result<Option<Entry>> {
        Ok(self
            .conn()?
            .query_opt(
                &format!("{SELECT} WHERE account = $1 AND message_id = $2"),
                &[&account, &message_id],
            )?
            .map(|r| row_entry(&r)))
    }

    fn journal(
        &self,
        account: &str,
        message_id: Option<&str>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let mut conn = self.conn()?;
        let after: Option<i64> = match message_id {
            Some(id) => conn
                .query_opt(
                    "SELECT seq FROM messages WHERE account = $1 AND message_id = $2",
                    &[&account, &id],
                )?
                .map(|r| r.get(0)),
            None => None,
        };
        let limit = limit.max(0);
        let rows = match (after, since) {
            (Some(seq), _) => conn.query(
                &format!("{SELECT} WHERE account = $1 AND seq > $2 ORDER BY seq LIMIT $3"),
                &[&account, &seq, &limit],
            )?,
            (None, Some(since)) => conn.query(
                &format!(
                    "{SELECT} WHERE account = $1 AND created_at > $2 COLLATE \"C\" ORDER BY seq LIMIT $3"
                ),
                &[&account, &since, &limit],
            )?,
            (None, None) => conn.query(
                &format!("{SELECT} WHERE account = $1 ORDER BY seq LIMIT $2"),
                &[&account, &limit],
            )?,
        };
        Ok(rows.iter().map(row_entry).collect())
    }

    fn set_state(
        &self,
        account: &str,
        message_id: &str,
        state: &str,
        disposition: Option<&[String]>,
    ) -> Result<bool> {
        let n = match disposition {
            Some(d) => self.conn()?.execute(
                "UPDATE messages SET state = $3, disposition = $4
                 WHERE account = $1 AND message_id = $2",
                &[
                    &account,
                    &message_id,
                    &state,
                    &serde_json::to_string(d).unwrap_or_default(),
                ],
            )?,
            None => self.conn()?.execute(
                "UPDATE messages SET state = $3 WHERE account = $1 AND message_id = $2",
                &[&account, &message_id, &state],
            )?,
        };
        Ok(n == 1)
    }

    fn advance_state(&self, account: &str, message_id: &str, state: &str) -> Result<bool> {
        let n = self.conn()?.execute(
            "UPDATE messages SET state = $3 WHERE account = $1 AND message_id = $2
             AND state = 'pending'",
            &[&account, &message_id, &state],
        )?;
        Ok(n == 1)
    }

    fn unread(&self, account: &str) -> Result<i64> {
        Ok(self
            .conn()?
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE account = $1 AND direction = 'incoming'
                 AND state = 'received'",
                &[&account],
            )?
            .get(0))
    }

    fn clear_disposition(&self, account: &str, contact: &str) -> Result<usize> {
        Ok(self.conn()?.execute(
            "UPDATE messages SET disposition = '[]' WHERE account = $1 AND contact = $2
             AND disposition IS NOT NULL AND disposition != '[]'",
            &[&account, &contact],
        )? as usize)
    }

    fn remove(&self, account: &str, message_id: &str) -> Result<Option<Entry>> {
        // One statement: the row deleted is the row returned.
        Ok(self
            .conn()?
            .query_opt(
                "DELETE FROM messages WHERE account = $1 AND message_id = $2
                 RETURNING account, message_id, contact, direction, content_type, content,
                    disposition, state, msg_timestamp, created_at",
                &[&account, &message_id],
            )?
            .map(|r| row_entry(&r)))
    }

    fn remove_conversation(&self, account: &str, contact: &str) -> Result<usize> {
        Ok(self.conn()?.execute(
            "DELETE FROM messages WHERE account = $1 AND contact = $2 AND direction != ''",
            &[&account, &contact],
        )? as usize)
    }

    fn set_token(&self, account: &str, t: &PushToken) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO push_tokens (account, app, device, platform, silent, token,
                background_token, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (account, app, device) DO UPDATE SET platform = excluded.platform,
                silent = excluded.silent, token = excluded.token,
                background_token = excluded.background_token, user_agent = excluded.user_agent",
            &[
                &account,
                &t.app,
                &t.device,
                &t.platform,
                &t.silent,
                &t.token,
                &t.background_token,
                &t.user_agent,
            ],
        )?;
        Ok(())
    }

    fn remove_token(&self, account: &str, app: &str, device: &str) -> Result<bool> {
        let n = self.conn()?.execute(
            "DELETE FROM push_tokens WHERE account = $1 AND app = $2 AND device = $3",
            &[&account, &app, &device],
        )?;
        Ok(n == 1)
    }

    fn tokens(&self, account: &str) -> Result<Vec<PushToken>> {
        let rows = self.conn()?.query(
            "SELECT app, device, platform, silent, token, background_token, user_agent
             FROM push_tokens WHERE account = $1 ORDER BY app COLLATE \"C\", device COLLATE \"C\"",
            &[&account],
        )?;
        Ok(rows
            .iter()
            .map(|r| PushToken {
                app: r.get(0),
                device: r.get(1),
                platform: r.get(2),
                silent: r.get(3),
                token: r.get(4),
                background_token: r.get(5),
                user_agent: r.get(6),
            })
            .collect())
    }

    fn set_public_key(&self, account: &str, key: &str, now: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO public_keys (account, content, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET content = excluded.content,
                created_at = excluded.created_at",
            &[&account, &key, &now],
        )?;
        Ok(())
    }

    fn public_key(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT content FROM public_keys WHERE account = $1",
                &[&account],
            )?
            .map(|r| r.get(0)))
    }

    fn addressbook(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT book FROM addressbooks WHERE account = $1",
                &[&account],
            )?
            .map(|r| r.get(0)))
    }

    fn set_addressbook(&self, account: &str, book: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO addressbooks (account, book) VALUES ($1, $2)
             ON CONFLICT (account) DO UPDATE SET book = excluded.book",
            &[&account, &book],
        )?;
        Ok(())
    }

    fn add_api_token(&self, account: &str, token: &str, expires: i64) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO api_tokens (token, account, expires) VALUES ($1, $2, $3)
             ON CONFLICT (token) DO UPDATE SET account = excluded.account,
                expires = excluded.expires",
            &[&token, &account, &expires],
        )?;
        Ok(())
    }

    fn api_token_valid(&self, account: &str, token: &str, now: i64) -> Result<bool> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT 1 FROM api_tokens WHERE token = $1 AND account = $2 AND expires > $3",
                &[&token, &account, &now],
            )?
            .is_some())
    }
}
