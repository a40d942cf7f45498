//! A cluster node's end of the relay ([`crate::cluster`]): what the bus brings.
//!
//! * A request of a connection on another node, for a room held here, is handled by a
//!   *relayed connection*: a [`Connection`] like any other, whose client is that connection
//!   across the bus. Its events (acks, room events) go back to the client's node, which
//!   writes them to the WebSocket. It ends when the client's connection closes, when the
//!   client's node dies, or when it fails (the client's node is told, `Gone`).
//! * Account events from other nodes go to this node's connections of the account.
//! * Events and `Gone` for this node's connections reach them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use signaling::sylkrtc::{self, Event, Parsed};
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

/// A connection relayed here, by its node and its id there.
struct Relayed {
    requests: mpsc::Sender<Queued>,
    /// Its id here.
    id: u64,
}

#[derive(Default)]
struct Relays(Mutex<HashMap<(String, u64), Relayed>>);

impl Relays {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, u64), Relayed>> {
        // Each update is one insert or remove.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Handles what the bus brings, until the cluster stops.
pub async fn serve(app: Arc<App>, cluster: Arc<Cluster>, mut inbound: mpsc::Receiver<Inbound>) {
    let relays = Arc::new(Relays::default());
    let mut shutdown = app.shutdown_signal();
    loop {
        tokio::select! {
            item = inbound.recv() => match item {
                Some(Inbound::Message(m)) => received(&app, &cluster, &relays, m),
                Some(Inbound::NodeGone(node)) => node_gone(&app, &relays, &node),
                None => break,
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    stop(&cluster, &relays);
                    break;
                }
            }
        }
    }
}

/// This node stops: the connections relayed here end, and their nodes are told (`Gone`), so
/// their clients learn that those room sessions are over.
fn stop(cluster: &Cluster, relays: &Relays) {
    let all: Vec<((String, u64), Relayed)> = relays.lock().drain().collect();
    for ((node, conn), _relayed) in all {
        cluster.to_node(
            &node,
            &Wire::Gone {
                from: cluster.node.clone(),
                conn,
            },
        );
    }
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
            conn,
            ip,
            text,
            account,
        } => request(app, cluster, relays, (from, conn), ip, text, account),
        Wire::Close { from, conn } => {
            if let Some(r) = relays.lock().remove(&(from.clone(), conn)) {
                // Its worker ends when its request queue closes, and leaves its rooms.
                info!(conn = r.id, %from, "relayed connection closed by its node");
                cluster.link_closed(&from);
            }
        }
        Wire::Event { conn, text } => {
            if let Some(handle) = app.access.handle(conn) {
                handle.deliver(text);
            }
        }
        Wire::Gone { from, conn } => {
            if let Some(handle) = app.access.handle(conn) {
                handle.order(Order::NodeGone(from));
            }
        }
    }
}

fn request(
    app: &Arc<App>,
    cluster: &Arc<Cluster>,
    relays: &Arc<Relays>,
    key: (String, u64),
    ip: IpAddr,
    text: String,
    account: Option<RelayedAccount>,
) {
    let request = match sylkrtc::parse(&text) {
        Parsed::Request(r) => r,
        Parsed::Rejected {
            transaction, error, ..
        } => {
            let event = Event::error(transaction, error).to_json();
            cluster.to_node(
                &key.0,
                &Wire::Event {
                    conn: key.1,
                    text: event,
                },
            );
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
        if all.len() >= app.config.limits.max_connections {
            drop(all);
            warn!(node = %key.0, "relayed connection refused: too many");
            let event = Event::error(transaction, "Too many connections").to_json();
            cluster.to_node(
                &key.0,
                &Wire::Event {
                    conn: key.1,
                    text: event,
                },
            );
            return;
        }
        let relayed = open(app, cluster, relays, &key, ip);
        all.insert(key.clone(), relayed);
        cluster.link_opened(&key.0);
    }
    let queued = Queued {
        request,
        text,
        account,
    };
    if let Some(r) = all.get(&key) {
        if r.requests.try_send(queued).is_err() {
            drop(all);
            let event = Event::error(transaction, "Too many requests").to_json();
            cluster.to_node(
                &key.0,
                &Wire::Event {
                    conn: key.1,
                    text: event,
                },
            );
        }
    }
}

/// Starts a relayed connection for connection `key.1` of node `key.0`.
fn open(
    app: &Arc<App>,
    cluster: &Arc<Cluster>,
    relays: &Arc<Relays>,
    key: &(String, u64),
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
    info!(conn = id, node = %key.0, remote_conn = key.1, "relayed connection opened");
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
    Relayed { requests, id }
}

/// Publishes a relayed connection's events to its client's node until it ends.
async fn pump(
    cluster: Arc<Cluster>,
    relays: Arc<Relays>,
    (node, conn): (String, u64),
    (id, kick): (u64, Arc<tokio::sync::Notify>),
    mut out: mpsc::Receiver<Outbound>,
) {
    loop {
        tokio::select! {
            item = out.recv() => match item {
                Some(Outbound::Text(text)) => cluster.to_node(&node, &Wire::Event { conn, text }),
                Some(Outbound::Failed) | Some(Outbound::Closed) | None => break,
            },
            _ = kick.notified() => break,
        }
    }
    // Still registered: it ended here (failed or closed by the operator), not by its node.
    let ended_here = relays.lock().remove(&(node.clone(), conn)).is_some();
    if ended_here {
        info!(conn = id, %node, "relayed connection ended: its node is told");
        cluster.to_node(
            &node,
            &Wire::Gone {
                from: cluster.node.clone(),
                conn,
            },
        );
        cluster.link_closed(&node);
    }
}

/// Node `node` is dead: the connections it relayed here end (leaving their rooms), and this
/// node's connections end their room sessions there.
fn node_gone(app: &Arc<App>, relays: &Arc<Relays>, node: &str) {
    let ended: Vec<Relayed> = {
        let mut all = relays.lock();
        let keys: Vec<_> = all.keys().filter(|(n, _)| n == node).cloned().collect();
        keys.into_iter().filter_map(|k| all.remove(&k)).collect()
    };
    if !ended.is_empty() {
        info!(%node, connections = ended.len(), "relayed connections of a dead node end");
    }
    drop(ended);
    for (handle, _) in app.access.list() {
        handle.order(Order::NodeGone(node.to_string()));
    }
}
