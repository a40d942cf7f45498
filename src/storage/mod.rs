//! The message store: accounts known to storage, the message journal of protocol §6, push
//! tokens, public keys, addressbooks and API tokens.
//!
//! Two backends behind one [`Backend`] trait: SQLite ([`sqlite`], embedded, the default:
//! nothing to install or start) and PostgreSQL ([`postgres`], `storage_url =
//! "postgres://…"`), which several gateways share as one service. Both keep the same
//! durability rule: when a method returns `Ok`, what it wrote is committed and survives a
//! crash or a kill, so the caller may ack then. Both version their schema and migrate it
//! forward at open, and refuse a store written by a newer gateway.
//!
//! Calls block: from async code, run them with `spawn_blocking` (`messaging::db`). The
//! storage test suite (`tests/storage_backends.rs`) runs on both backends.

use std::path::Path;

pub mod postgres;
pub mod sqlite;

/// The schema this code writes; older stores are migrated up to it at open.
pub const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error(
        "storage: the store has schema version {0}, newer than this gateway's {SCHEMA_VERSION}"
    )]
    TooNew(i64),
    #[error("storage: {0}")]
    Url(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

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

/// What a storage engine does for the gateway. Every write is committed before it returns.
pub trait Backend: Send + Sync {
    fn schema_version(&self) -> Result<i64>;

    // --- accounts known to storage
    fn add_account(&self, account: &str, now: &str) -> Result<()>;
    fn is_known(&self, account: &str) -> Result<bool>;

    // --- the journal
    /// Stores an entry; `false` when the account already has this message id (ignored).
    /// This is also what makes a message delivered once when several gateways receive it.
    fn add(&self, e: &Entry) -> Result<bool>;
    fn get(&self, account: &str, message_id: &str) -> Result<Option<Entry>>;
    /// The journal of `account`, oldest first, at most `limit` entries: after the entry
    /// `message_id` when it is known; else after `since` (a timestamp of the store's format)
    /// when given; else all.
    fn journal(
        &self,
        account: &str,
        message_id: Option<&str>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Entry>>;
    /// Sets a message's state and, if given, its pending disposition requests.
    fn set_state(
        &self,
        account: &str,
        message_id: &str,
        state: &str,
        disposition: Option<&[String]>,
    ) -> Result<bool>;
    /// Moves a message still `pending` to `state` (the SIP outcome of sending it); a message
    /// already past that (a report came first) keeps its state.
    fn advance_state(&self, account: &str, message_id: &str, state: &str) -> Result<bool>;
    /// Incoming messages not yet delivered or read (the push badge).
    fn unread(&self, account: &str) -> Result<i64>;
    /// Clears the pending dispositions of the conversation with `contact` (marked read).
    fn clear_disposition(&self, account: &str, contact: &str) -> Result<usize>;
    /// Deletes one message; returns it if it existed.
    fn remove(&self, account: &str, message_id: &str) -> Result<Option<Entry>>;
    /// Deletes every message of the conversation with `contact`; returns how many.
    fn remove_conversation(&self, account: &str, contact: &str) -> Result<usize>;

    // --- push tokens
    fn set_token(&self, account: &str, t: &PushToken) -> Result<()>;
    fn remove_token(&self, account: &str, app: &str, device: &str) -> Result<bool>;
    fn tokens(&self, account: &str) -> Result<Vec<PushToken>>;

    // --- public keys, addressbooks, API tokens
    fn set_public_key(&self, account: &str, key: &str, now: &str) -> Result<()>;
    fn public_key(&self, account: &str) -> Result<Option<String>>;
    /// The addressbook as stored JSON (`{contacts, groups, policies}`), if any.
    fn addressbook(&self, account: &str) -> Result<Option<String>>;
    fn set_addressbook(&self, account: &str, book: &str) -> Result<()>;
    fn add_api_token(&self, account: &str, token: &str, expires: i64) -> Result<()>;
    /// Whether `token` is a live API token of `account` at unix time `now`.
    fn api_token_valid(&self, account: &str, token: &str, now: i64) -> Result<bool>;
}

/// The store the gateway uses: one backend, chosen at start.
pub struct Store {
    backend: Box<dyn Backend>,
    /// `sqlite` or `postgres`, for the log and `/health`.
    pub kind: &'static str,
}

impl Store {
    /// The embedded SQLite store at `path`, created and migrated as needed.
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Store {
            backend: Box::new(sqlite::Sqlite::open(path)?),
            kind: "sqlite",
        })
    }

    pub fn open_in_memory() -> Result<Store> {
        Ok(Store {
            backend: Box::new(sqlite::Sqlite::open_in_memory()?),
            kind: "sqlite",
        })
    }

    /// The PostgreSQL store at `url` (`postgres://user:password@host:port/db`), migrated.
    /// Blocks: call it outside the async runtime or with `spawn_blocking`.
    pub fn connect(url: &str, pool: usize) -> Result<Store> {
        Ok(Store {
            backend: Box::new(postgres::Postgres::connect(url, pool)?),
            kind: "postgres",
        })
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}
