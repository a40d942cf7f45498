//! Who may do what: the gateway's authorization rules, in one place.
//!
//! * An account on a connection is *added* (`account-add`, with any password) or
//!   *authenticated*: its registration succeeded on this connection. It stays authenticated
//!   there until it is removed (as in SylkServer: `account-unregister` does not undo it).
//! * A request that carries an account's private data or acts in its name needs the account
//!   authenticated on the connection ([`requirement`] says it for every request type);
//!   joining rooms and calling need it added only, as SylkServer allows.
//! * Private events of an account (messages, `sync`, dispositions, addressbook updates,
//!   conference invitations) go only to connections where it is authenticated
//!   ([`Directory::deliver`]); nothing private is sent where it is merely added.
//! * An HTTP upload in an account's name must come from the IP address of a connection where
//!   that account is authenticated ([`Directory::may_act_from`]).
//! * WebSocket connections are admitted up to a total and a number per IP address
//!   ([`Directory::admit`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use signaling::sylkrtc::Request;

use crate::connection::ConnHandle;

/// How far an account has come on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Added,
    Authenticated,
}

/// What a request needs before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement<'a> {
    /// Nothing of an account (or the handler checks what it needs with its own texts).
    None,
    /// The account, added and authenticated on this connection.
    Authenticated(&'a str),
    /// The account of the connection's room session `session` (if it is one) authenticated:
    /// it acts in that account's name toward others (`videoroom-invite`).
    RoomSessionAuthenticated(&'a str),
}

/// The rule for every request type.
pub fn requirement(request: &Request) -> Requirement<'_> {
    use Requirement::*;
    match request {
        Request::AccountMessage(r) => Authenticated(&r.account),
        Request::AccountDispositionNotification(r) => Authenticated(&r.account),
        Request::AccountSyncConversations(r) => Authenticated(&r.account),
        Request::AccountMarkConversationRead(r) => Authenticated(&r.account),
        Request::AccountRemoveMessage(r) => Authenticated(&r.account),
        Request::AccountRemoveConversation(r) => Authenticated(&r.account),
        Request::AccountFetchAddressbook(r) => Authenticated(&r.account),
        Request::AccountUpdateAddressbook(r) => Authenticated(&r.account),
        Request::VideoroomInvite(r) => RoomSessionAuthenticated(&r.session),
        // Public data, or the account added only (calls, rooms: the SIP side authenticates a
        // call itself; a room is open to whoever knows its name, as in SylkServer), or the
        // account's own management (add, remove, register, device token: stored only once
        // authenticated).
        Request::Ping(_)
        | Request::LookupPublicKey(_)
        | Request::AccountAdd(_)
        | Request::AccountRemove(_)
        | Request::AccountRegister(_)
        | Request::AccountUnregister(_)
        | Request::AccountDeviceToken(_)
        | Request::SessionCreate(_)
        | Request::SessionAnswer(_)
        | Request::SessionTrickle(_)
        | Request::SessionTerminate(_)
        | Request::SessionUpdate(_)
        | Request::SessionMessage(_)
        | Request::SessionDtmfInfo(_)
        | Request::VideoroomJoin(_)
        | Request::VideoroomLeave(_)
        | Request::VideoroomConfigure(_)
        | Request::VideoroomFeedAttach(_)
        | Request::VideoroomFeedAnswer(_)
        | Request::VideoroomFeedDetach(_)
        | Request::VideoroomSessionTrickle(_)
        | Request::VideoroomSessionUpdate(_)
        | Request::VideoroomMessage(_)
        | Request::VideoroomComposingIndication(_)
        | Request::VideoroomMuteAudioParticipants(_)
        | Request::VideoroomToggleHand(_)
        | Request::VideoroomRemove(_)
        | Request::VideoroomMuteParticipant(_) => None,
    }
}

/// The error text of a request whose account is not authenticated (SylkServer's).
pub const NOT_AUTHENTICATED: &str = "Account not authenticated";

/// Why an account or a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many connections (at most {0})")]
    Total(usize),
    #[error("too many connections from this address (at most {0})")]
    PerIp(usize),
    #[error("Too many accounts on this connection (at most {0})")]
    Accounts(usize),
}

/// A live connection and the standing of each of its accounts.
struct Live {
    handle: ConnHandle,
    accounts: HashMap<String, Standing>,
    /// Relayed from another node of a cluster ([`Directory::mark_relayed`]).
    relayed: bool,
}

#[derive(Default)]
struct Inner {
    live: HashMap<u64, Live>,
    /// Admitted connections (upgraded or upgrading) per IP address, and in total.
    per_ip: HashMap<IpAddr, usize>,
    admitted: usize,
}

/// Every live connection, its accounts and their standing; admission of new connections.
pub struct Directory {
    inner: Mutex<Inner>,
    /// In a cluster: publishes an account's private event for the other nodes.
    bus: OnceLock<Bus>,
    max_connections: usize,
    max_per_ip: usize,
    max_accounts: usize,
}

/// A connection's place in [`Directory::admit`]'s counts; given back when dropped.
pub struct Admitted {
    directory: Arc<Directory>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut inner = self.directory.lock();
        inner.admitted = inner.admitted.saturating_sub(1);
        if let Some(n) = inner.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                inner.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Publishes `(account, event)` to the other nodes of a cluster.
pub type Bus = Box<dyn Fn(&str, &str) + Send + Sync>;

impl Directory {
    pub fn new(max_connections: usize, max_per_ip: usize, max_accounts: usize) -> Self {
        Directory {
            inner: Mutex::default(),
            bus: OnceLock::new(),
            max_connections,
            max_per_ip,
            max_accounts,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below is one step that cannot be left half done by a panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a new WebSocket connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let mut inner = self.lock();
        if inner.admitted >= self.max_connections {
            return Err(Refused::Total(self.max_connections));
        }
        let n = inner.per_ip.get(&ip).copied().unwrap_or(0);
        if n >= self.max_per_ip {
            return Err(Refused::PerIp(self.max_per_ip));
        }
        inner.per_ip.insert(ip, n + 1);
        inner.admitted += 1;
        Ok(Admitted {
            directory: self.clone(),
            ip,
        })
    }

    pub fn open(&self, handle: ConnHandle) {
        self.lock().live.insert(
            handle.id,
            Live {
                handle,
                accounts: HashMap::new(),
                relayed: false,
            },
        );
    }

    /// Marks `conn` as relayed from another node of a cluster (`crate::relay`): its
    /// client gets its account's private events from its own node, so none are sent here.
    pub fn mark_relayed(&self, conn: u64) {
        if let Some(live) = self.lock().live.get_mut(&conn) {
            live.relayed = true;
        }
    }

    /// In a cluster: private events are also published for the other nodes with `bus`.
    pub fn set_bus(&self, bus: Bus) {
        let _ = self.bus.set(bus);
    }

    /// Live connections and the accounts added on them.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let accounts = inner.live.values().map(|l| l.accounts.len()).sum();
        (inner.live.len(), accounts)
    }

    /// Every live connection: its handle and its accounts with whether each is authenticated.
    pub fn list(&self) -> Vec<(ConnHandle, Vec<(String, bool)>)> {
        let inner = self.lock();
        let mut all: Vec<_> = inner
            .live
            .values()
            .map(|l| {
                let mut accounts: Vec<(String, bool)> = l
                    .accounts
                    .iter()
                    .map(|(a, s)| (a.clone(), *s == Standing::Authenticated))
                    .collect();
                accounts.sort();
                (l.handle.clone(), accounts)
            })
            .collect();
        all.sort_by_key(|(h, _)| h.id);
        all
    }

    /// The handle of connection `conn`, if it is live.
    pub fn handle(&self, conn: u64) -> Option<ConnHandle> {
        self.lock().live.get(&conn).map(|l| l.handle.clone())
    }

    pub fn close(&self, conn: u64) {
        self.lock().live.remove(&conn);
    }

    /// Adds `account` on `conn` (not authenticated yet), within the per-connection limit.
    pub fn add(&self, conn: u64, account: &str) -> Result<(), Refused> {
        let mut inner = self.lock();
        let Some(live) = inner.live.get_mut(&conn) else {
            return Ok(());
        };
        if !live.accounts.contains_key(account) && live.accounts.len() >= self.max_accounts {
            return Err(Refused::Accounts(self.max_accounts));
        }
        live.accounts.insert(account.to_string(), Standing::Added);
        Ok(())
    }

    pub fn remove(&self, conn: u64, account: &str) {
        if let Some(live) = self.lock().live.get_mut(&conn) {
            live.accounts.remove(account);
        }
    }

    /// Records that `account` registered on `conn`: its private data may go there from now on.
    pub fn authenticate(&self, conn: u64, account: &str) {
        if let Some(standing) = self
            .lock()
            .live
            .get_mut(&conn)
            .and_then(|live| live.accounts.get_mut(account))
        {
            *standing = Standing::Authenticated;
        }
    }

    /// The standing of `account` on `conn` (`None`: not added there).
    pub fn standing(&self, conn: u64, account: &str) -> Option<Standing> {
        self.lock()
            .live
            .get(&conn)
            .and_then(|live| live.accounts.get(account).copied())
    }

    /// Sends `text`, a private event of `account`, to every connection where the account is
    /// authenticated, except `except`; returns how many got it.
    /// In a cluster the other nodes deliver it to theirs too.
    pub fn deliver(&self, account: &str, except: Option<u64>, text: &str) -> usize {
        if let Some(bus) = self.bus.get() {
            bus(account, text);
        }
        self.deliver_here(account, except, text)
    }

    /// [`Directory::deliver`] to this node's connections only (an event from the bus).
    pub fn deliver_here(&self, account: &str, except: Option<u64>, text: &str) -> usize {
        let inner = self.lock();
        let mut n = 0;
        for (id, live) in &inner.live {
            if Some(*id) != except
                && !live.relayed
                && live.accounts.get(account) == Some(&Standing::Authenticated)
            {
                live.handle.deliver(text.to_string());
                n += 1;
            }
        }
        n
    }

    /// Every account authenticated on a connection of this node (not relayed), once each.
    pub fn authenticated_accounts(&self) -> Vec<String> {
        let inner = self.lock();
        let mut all: Vec<String> = inner
            .live
            .values()
            .filter(|live| !live.relayed)
            .flat_map(|live| {
                live.accounts
                    .iter()
                    .filter(|(_, s)| **s == Standing::Authenticated)
                    .map(|(a, _)| a.clone())
            })
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// How many connections have `account` authenticated.
    pub fn authenticated_connections(&self, account: &str) -> usize {
        self.lock()
            .live
            .values()
            .filter(|live| {
                !live.relayed && live.accounts.get(account) == Some(&Standing::Authenticated)
            })
            .count()
    }

    /// Whether a connection from `ip` has `account` authenticated (HTTP requests in the
    /// account's name carry nothing else that ties them to it).
    pub fn may_act_from(&self, account: &str, ip: IpAddr) -> bool {
        self.lock().live.values().any(|live| {
            !live.relayed
                && live.handle.peer == ip
                && live.accounts.get(account) == Some(&Standing::Authenticated)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaling::sylkrtc::{parse, Parsed};

    fn handle(
        id: u64,
        ip: [u8; 4],
    ) -> (
        ConnHandle,
        tokio::sync::mpsc::Receiver<crate::connection::Outbound>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let (orders, _) = tokio::sync::mpsc::channel(1);
        (ConnHandle::new(id, IpAddr::from(ip), tx, orders), rx)
    }

    #[test]
    fn private_events_reach_authenticated_connections_only() {
        let d = Directory::new(10, 10, 2);
        let (a, mut a_rx) = handle(1, [10, 0, 0, 1]);
        let (b, mut b_rx) = handle(2, [10, 0, 0, 2]);
        d.open(a);
        d.open(b);
        d.add(1, "alice@example.com").unwrap();
        d.add(2, "alice@example.com").unwrap();
        assert_eq!(d.deliver("alice@example.com", None, "x"), 0);
        d.authenticate(1, "alice@example.com");
        assert_eq!(d.deliver("alice@example.com", None, "x"), 1);
        assert!(a_rx.try_recv().is_ok());
        assert!(b_rx.try_recv().is_err(), "added only: nothing private");
        assert!(d.may_act_from("alice@example.com", IpAddr::from([10, 0, 0, 1])));
        assert!(!d.may_act_from("alice@example.com", IpAddr::from([10, 0, 0, 2])));
        assert_eq!(d.deliver("alice@example.com", Some(1), "x"), 0);
        d.remove(1, "alice@example.com");
        assert_eq!(d.standing(1, "alice@example.com"), None);
        assert_eq!(d.authenticated_connections("alice@example.com"), 0);
    }

    #[test]
    fn accounts_per_connection_are_bounded() {
        let d = Directory::new(10, 10, 2);
        d.open(handle(1, [10, 0, 0, 1]).0);
        d.add(1, "a@x").unwrap();
        d.add(1, "b@x").unwrap();
        assert_eq!(d.add(1, "c@x"), Err(Refused::Accounts(2)));
        d.add(1, "a@x").unwrap();
        d.remove(1, "a@x");
        d.add(1, "c@x").unwrap();
    }

    #[test]
    fn admission_counts_per_ip_and_in_total() {
        let d = Arc::new(Directory::new(3, 2, 1));
        let ip = IpAddr::from([10, 0, 0, 1]);
        let one = d.admit(ip).unwrap();
        let _two = d.admit(ip).unwrap();
        assert_eq!(d.admit(ip).err(), Some(Refused::PerIp(2)));
        let _three = d.admit(IpAddr::from([10, 0, 0, 2])).unwrap();
        assert_eq!(
            d.admit(IpAddr::from([10, 0, 0, 3])).err(),
            Some(Refused::Total(3))
        );
        drop(one);
        assert!(d.admit(ip).is_ok());
    }

    #[test]
    fn private_requests_need_authentication() {
        let request = |json: &str| match parse(json) {
            Parsed::Request(r) => r,
            other => panic!("{json}: {other:?}"),
        };
        let r = request(
            r#"{"sylkrtc":"account-sync-conversations","transaction":"t","account":"a@x"}"#,
        );
        assert_eq!(requirement(&r), Requirement::Authenticated("a@x"));
        let r =
            request(r#"{"sylkrtc":"account-fetch-addressbook","transaction":"t","account":"a@x"}"#);
        assert_eq!(requirement(&r), Requirement::Authenticated("a@x"));
        let r = request(
            r#"{"sylkrtc":"videoroom-invite","transaction":"t","session":"s","participants":["b@x"]}"#,
        );
        assert_eq!(requirement(&r), Requirement::RoomSessionAuthenticated("s"));
        let r = request(r#"{"sylkrtc":"account-register","transaction":"t","account":"a@x"}"#);
        assert_eq!(requirement(&r), Requirement::None);
        let r = request(r#"{"sylkrtc":"ping","transaction":"t"}"#);
        assert_eq!(requirement(&r), Requirement::None);
    }
}
