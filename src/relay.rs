//! A cluster node's end of the relay ([`crate::cluster`]): joining the cluster, and what the
//! bus brings.
//!
//! * A request of a connection on another node, for a room held here, is handled by a
//!   *relayed connection*: a [`Connection`] like any other, whose client is that connection
//!   across the bus. Its events (acks, room events) go back to the client's node, which
//!   writes them to the WebSocket. A `videoroom-join` opens it; it ends when the client's
//!   connection closes (`Close`, or missing from its node's `Links`), when the client's node
//!   dies or restarts, or when it fails or this node stops (the client's node is told,
//!   `Gone`).
//! * Account events from other nodes go to this node's connections of the account.
//! * Events and `Gone` for this node's connections reach them.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use signaling::sylkrtc::{self, Event, Parsed, Request};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::cluster::wire::{RelayedAccount, Wire};
use crate::cluster::{Cluster, Inbound};
use crate::connection::{ConnHandle, Connection, Order, Outbound, Queued};
use crate::server::App;

/// Requests queued for one relayed connection (as for a WebSocket's worker).
const REQUESTS: usize = 64;
/// Events queued for one relayed connection's client before they are published.
const OUTBOX: usize = 1024;
/// A relayed connection younger than this is kept even when its node's `Links` do not name
/// it yet (that list may have been made just before the connection's first request).
const LINKS_GRACE: Duration = Duration::from_secs(5);

/// A connection relayed here: its node, that node's epoch, its id there.
type Key = (String, u64, u64);

struct Relayed {
    requests: mpsc::Sender<Queued>,
    /// Its id here.
    id: u64,
    opened: Instant,
}

#[derive(Default)]
struct Relays(Mutex<HashMap<Key, Relayed>>);

impl Relays {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Relayed>> {
        // Each update is one insert or remove.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes this gateway a node of the cluster whose Redis is at `url` ([`crate::cluster`]).
pub async fn join(app: &Arc<App>, url: &str, local: SocketAddr) -> anyhow::Result<()> {
    let node = app.config.cluster.node_id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "gateway".into());
        format!("{host}:{}", local.port())
    });
    let lease = Duration::from_secs_f64(app.config.cluster.lease);
    let cluster = crate::cluster::Cluster::connect(url, node.clone(), app.base_url.clone(), lease)
        .await
        .with_context(|| {
            format!(
                "cannot join the cluster at {}",
                crate::config::redact_url(url)
            )
        })?;
    let bus = cluster.clone();
    app.access.set_bus(Box::new(move |account, text| {
        bus.account_event(account, text)
    }));
    let _ = app.cluster.set(cluster.clone());
    let (inbound_tx, inbound_rx) = tokio::sync::mpsc::channel(crate::cluster::INBOUND);
    let state_of = Arc::downgrade(app);
    let state: crate::cluster::NodeState = Arc::new(move || match state_of.upgrade() {
        Some(app) => crate::cluster::NodeView {
            rooms: app.rooms().all().iter().map(|r| r.uri.clone()).collect(),
            draining: app.draining(),
            accounts: app.access.authenticated_accounts(),
        },
        None => Default::default(),
    });
    tokio::spawn(crate::cluster::serve(cluster.clone(), state, inbound_tx));
    tokio::spawn(crate::relay::serve(app.clone(), cluster, inbound_rx));
    info!(%node, redis = %crate::config::redact_url(url), lease_s = lease.as_secs_f64(), "cluster node");
    Ok(())
}

/// Handles what the bus brings, until the cluster stops.
pub async fn serve(app: Arc<App>, cluster: Arc<Cluster>, mut inbound: mpsc::Receiver<Inbound>) {
    let relays = Arc::new(Relays::default());
    let mut shutdown = app.shutdown_signal();
    loop {
        tokio::select! {
            item = inbound.recv() => match item {
                Some(Inbound::Message(m)) => received(&app, &cluster, &relays, m),
                Some(Inbound::NodeGone(node)) => node_gone(&app, &cluster, &relays, &node),
                None => break,
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    let all: Vec<Key> = relays.lock().keys().cloned().collect();
                    end(&cluster, &relays, all, "this node stops");
                    break;
                }
            }
        }
    }
}

/// Ends relayed connections (their workers leave their rooms when their request queues
/// close) and tells their nodes (`Gone`), so their clients learn those sessions are over.
fn end(cluster: &Cluster, relays: &Relays, keys: Vec<Key>, why: &str) {
    for key in keys {
        let Some(r) = relays.lock().remove(&key) else {
            continue;
        };
        let (node, epoch, conn) = key;
        info!(conn = r.id, %node, reason = why, "relayed connection ended");
        cluster.relay_closed(&node, epoch, conn);
        gone(cluster, &node, epoch, conn);
    }
}

fn gone(cluster: &Cluster, node: &str, epoch: u64, conn: u64) {
    cluster.to_node(
        node,
        &Wire::Gone {
            from: cluster.node.clone(),
            epoch,
            conn,
        },
    );
}

fn received(app: &Arc<App>, cluster: &Arc<Cluster>, relays: &Arc<Relays>, m: Wire) {
    match m {
        Wire::Account {
            from,
            account,
            text,
        } => {
            if from != cluster.node {
                app.access.deliver_here(&account, None, &text);
            }
        }
        Wire::Request {
            from,
            epoch,
            conn,
            ip,
            text,
            account,
        } => request(app, cluster, relays, (from, epoch, conn), ip, text, account),
        Wire::Close { from, epoch, conn } => {
            let key = (from, epoch, conn);
            if let Some(r) = relays.lock().remove(&key) {
                info!(conn = r.id, node = %key.0, "relayed connection closed by its node");
                cluster.relay_closed(&key.0, epoch, conn);
            }
        }
        Wire::Links { from, epoch, conns } => {
            let named: HashSet<u64> = conns.into_iter().collect();
            let stale: Vec<Key> = relays
                .lock()
                .iter()
                .filter(|((node, e, c), r)| {
                    *node == from
                        && (*e != epoch || !named.contains(c))
                        && r.opened.elapsed() > LINKS_GRACE
                })
                .map(|(k, _)| k.clone())
                .collect();
            if !stale.is_empty() {
                end(cluster, relays, stale, "its node no longer has it");
            }
        }
        Wire::Event { epoch, conn, text } => {
            if epoch == cluster.epoch {
                if let Some(handle) = app.access.handle(conn) {
                    handle.deliver(text);
                }
            }
        }
        Wire::Gone { from, epoch, conn } => {
            if epoch == cluster.epoch {
                if let Some(handle) = app.access.handle(conn) {
                    handle.order_surely(Order::NodeGone(from));
                }
            }
        }
    }
}

fn request(
    app: &Arc<App>,
    cluster: &Arc<Cluster>,
    relays: &Arc<Relays>,
    key: Key,
    ip: IpAddr,
    text: String,
    account: Option<RelayedAccount>,
) {
    let reply = |text: String| {
        cluster.to_node(
            &key.0,
            &Wire::Event {
                epoch: key.1,
                conn: key.2,
                text,
            },
        )
    };
    let request = match sylkrtc::parse(&text) {
        Parsed::Request(r) => r,
        Parsed::Rejected {
            transaction, error, ..
        } => {
            reply(Event::error(transaction, error).to_json());
            return;
        }
        Parsed::Ignored(why) => {
            warn!(node = %key.0, reason = %why, "relayed request ignored");
            return;
        }
    };
    let transaction = request.transaction().to_string();
    let mut all = relays.lock();
    if !all.contains_key(&key) {
        if !matches!(request, Request::VideoroomJoin(_)) {
            // What it names is not here (this node restarted, or ended that connection).
            drop(all);
            reply(Event::error(transaction, "Unknown session").to_json());
            gone(cluster, &key.0, key.1, key.2);
            return;
        }
        if all.len() >= app.config.limits.max_connections {
            drop(all);
            warn!(node = %key.0, "relayed connection refused: too many");
            reply(Event::error(transaction, "Too many connections").to_json());
            return;
        }
        let relayed = open(app, cluster, relays, &key, ip);
        all.insert(key.clone(), relayed);
        cluster.relay_opened(&key.0, key.1, key.2);
    }
    let queued = Queued {
        request,
        text,
        account,
    };
    if let Some(r) = all.get(&key) {
        if r.requests.try_send(queued).is_err() {
            drop(all);
            reply(Event::error(transaction, "Too many requests").to_json());
        }
    }
}

/// Starts a relayed connection for connection `key.2` of node `key.0`.
fn open(
    app: &Arc<App>,
    cluster: &Arc<Cluster>,
    relays: &Arc<Relays>,
    key: &Key,
    ip: IpAddr,
) -> Relayed {
    let id = app.next_connection_id();
    let (out_tx, out_rx) = mpsc::channel(OUTBOX);
    let (orders_tx, orders_rx) = mpsc::channel(crate::connection::ORDERS);
    let handle = ConnHandle::new(id, ip, out_tx.clone(), orders_tx);
    let connection = Connection::new(handle.clone(), app.clone(), out_tx, orders_rx);
    // Its client's private events come from its own node, not from here.
    app.access.mark_relayed(id);
    let (requests, requests_rx) = mpsc::channel(REQUESTS);
    info!(conn = id, node = %key.0, remote_conn = key.2, "relayed connection opened");
    tokio::spawn(connection.run(requests_rx));
    // The pump holds no handle of the connection, so its outbox closes when the connection
    // and its rooms let go of it.
    tokio::spawn(pump(
        cluster.clone(),
        relays.clone(),
        key.clone(),
        (id, handle.kick.clone()),
        out_rx,
    ));
    Relayed {
        requests,
        id,
        opened: Instant::now(),
    }
}

/// Publishes a relayed connection's events to its client's node until it ends.
async fn pump(
    cluster: Arc<Cluster>,
    relays: Arc<Relays>,
    key: Key,
    (id, kick): (u64, Arc<tokio::sync::Notify>),
    mut out: mpsc::Receiver<Outbound>,
) {
    let (epoch, conn) = (key.1, key.2);
    loop {
        tokio::select! {
            item = out.recv() => match item {
                Some(Outbound::Text(text)) => {
                    cluster.to_node(&key.0, &Wire::Event { epoch, conn, text })
                }
                Some(Outbound::Failed) | Some(Outbound::Closed) | None => break,
            },
            _ = kick.notified() => break,
        }
    }
    // Still registered: it ended here (failed or closed by the operator), not by its node.
    if relays.lock().contains_key(&key) {
        info!(conn = id, node = %key.0, "relayed connection failed");
        end(&cluster, &relays, vec![key], "it failed");
    }
}

/// Node `node` is dead or restarted: the connections it relayed here end (leaving their
/// rooms; it is told, in case it is alive after all), and this node's connections end their
/// room sessions there.
fn node_gone(app: &Arc<App>, cluster: &Cluster, relays: &Relays, node: &str) {
    let keys: Vec<Key> = relays
        .lock()
        .keys()
        .filter(|(n, _, _)| n == node)
        .cloned()
        .collect();
    end(cluster, relays, keys, "its node is gone");
    for (handle, _) in app.access.list() {
        handle.order_surely(Order::NodeGone(node.to_string()));
    }
}
