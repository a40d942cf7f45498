//! Several gateways as one service, over Redis (`cluster.redis_url`).
//!
//! * **Accounts:** a private event of an account ([`crate::access::Directory::deliver`]) is
//!   also published on the bus; every other node delivers it to its own connections of the
//!   account. The store is shared (PostgreSQL), so `sync` and the journal agree everywhere.
//! * **Rooms:** a room's media lives on one node, chosen when the room starts and recorded in
//!   Redis with a lease the holder renews ([`Cluster::place`]). A participant whose WebSocket
//!   is on another node has its room requests relayed to the room's node, where they are
//!   handled by a relayed connection (`crate::relay`) whose events come back over the bus; its
//!   media goes straight to the room's node (that node's candidates are in the SDP).
//! * **Liveness:** each node renews a record of itself; a node whose record expired is dead:
//!   the sessions relayed to it end (`terminated`), the connections it relayed here close,
//!   and its rooms are placed anew at the next join once their leases expire.
//! * **SIP:** each node registers its accounts with its own Contact, so the proxy routes a
//!   request to the node that holds the binding; a message received by several nodes is
//!   stored once (the shared store's unique message id) and delivered by the node whose
//!   insert won.
//!
//! Redis is trusted like the proxy: run it on the operators' private network.

pub mod remote;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use wire::Wire;

/// Metric: bus messages by `direction` (`published`, `received`, `dropped`, `malformed`);
/// described with the others in `crate::metrics`.
pub const BUS_MESSAGES: &str = "sylk_cluster_bus_messages_total";

fn count(direction: &'static str, n: usize) {
    metrics::counter!(BUS_MESSAGES, "direction" => direction).increment(n as u64);
}

/// Bus messages waiting to be published; beyond this a node is cut off from Redis and new
/// messages are dropped (and counted in the log) rather than held without bound.
const OUTBOX: usize = 8192;

/// How long a room placed on this node may take to exist here before its placement is let go
/// (a join that failed).
const PLACING: Duration = Duration::from_secs(10);

/// Bus messages waiting for this node's relay task (its subscriber waits when it is full).
pub const INBOUND: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster: redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cluster: no node could take room {0}")]
    NoPlacement(String),
}

/// Where a room's media lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Here,
    There(String),
}

pub struct Cluster {
    /// This node's name.
    pub node: String,
    /// This run of the node (random at each start; see [`Wire`]).
    pub epoch: u64,
    /// `https://HOST:PORT` of this node as clients reach it (file sharing goes there).
    base_url: String,
    lease: Duration,
    client: redis::Client,
    redis: ConnectionManager,
    outbox: mpsc::Sender<(String, String)>,
    outbox_rx: Mutex<Option<mpsc::Receiver<(String, String)>>>,
    /// Rooms this node holds a placement lease on, each with when this node placed it
    /// (`None`: it was already a room here).
    held: Mutex<HashMap<String, Option<Instant>>>,
    /// The links between this node and the others ([`Wire`]).
    links: Mutex<Links>,
    /// Subscribed to the bus now.
    on_bus: AtomicBool,
}

/// The links of this node, both ways, and the epoch last seen of each node it has links with.
#[derive(Debug, Default)]
struct Links {
    /// This node's connections relaying to each node.
    out: HashMap<String, HashSet<u64>>,
    /// Each node's connections relayed here (by its node and epoch).
    inbound: HashMap<String, HashSet<(u64, u64)>>,
    epochs: HashMap<String, u64>,
}

/// What the bus brings to the node (handled by `crate::relay`).
#[derive(Debug)]
pub enum Inbound {
    Message(Wire),
    /// A node this node exchanges room sessions with is dead, or restarted (its earlier run
    /// is gone).
    NodeGone(String),
}

/// What the node tells its upkeep.
#[derive(Debug, Default)]
pub struct NodeView {
    /// The rooms it has (their leases are renewed, the others' released).
    pub rooms: HashSet<String>,
    /// Whether it drains (new rooms go to other nodes).
    pub draining: bool,
    /// The accounts authenticated on its connections (its presence record).
    pub accounts: Vec<String>,
}

pub type NodeState = Arc<dyn Fn() -> NodeView + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is one step; a panic cannot leave one half done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the placement record to this node when it is free or already this node's.
const RENEW: &str = r"
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// Deletes a record only while it still names `ARGV[1]`.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

impl Cluster {
    /// Connects to Redis; the node's tasks start with [`serve`].
    pub async fn connect(
        url: &str,
        node: String,
        base_url: String,
        lease: Duration,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let client = redis::Client::open(url)?;
        // A Redis that stops answering (its connection still up) must not hold a join, a
        // push or the node's upkeep for ever: half a lease, and the call fails.
        let timeout = (lease / 2).max(Duration::from_millis(500));
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout);
        let redis = ConnectionManager::new_with_config(client.clone(), config).await?;
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX);
        Ok(Arc::new(Cluster {
            node,
            epoch: rand::random(),
            base_url,
            lease,
            client,
            redis,
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            held: Default::default(),
            links: Default::default(),
            on_bus: AtomicBool::new(false),
        }))
    }

    /// Whether the node hears the bus now (`/ready`).
    pub fn on_bus(&self) -> bool {
        self.on_bus.load(Ordering::Relaxed)
    }

    fn lease_ms(&self) -> u64 {
        self.lease.as_millis() as u64
    }

    /// Queues a message for a channel, never waiting.
    pub fn publish(&self, channel: String, message: &Wire) {
        if self.outbox.try_send((channel, message.encode())).is_err() {
            count("dropped", 1);
            warn!("cluster: bus outbox full, a message is dropped (is Redis reachable?)");
        }
    }

    /// Publishes a private event of `account` for the other nodes.
    pub fn account_event(&self, account: &str, text: &str) {
        self.publish(
            wire::ACCOUNTS.to_string(),
            &Wire::Account {
                from: self.node.clone(),
                account: account.to_string(),
                text: text.to_string(),
            },
        );
    }

    /// Sends a message to node `node`.
    pub fn to_node(&self, node: &str, message: &Wire) {
        self.publish(wire::node_channel(node), message);
    }

    /// Connection `conn` of this node relays to `node` from now on.
    pub fn link_opened(&self, node: &str, conn: u64) {
        lock(&self.links)
            .out
            .entry(node.to_string())
            .or_default()
            .insert(conn);
    }

    /// Connection `conn` of this node relays to `node` no more.
    pub fn link_closed(&self, node: &str, conn: u64) {
        let mut links = lock(&self.links);
        if let Some(conns) = links.out.get_mut(node) {
            conns.remove(&conn);
            if conns.is_empty() {
                links.out.remove(node);
            }
        }
    }

    /// Connection `conn` of `node`'s run `epoch` is relayed here from now on.
    pub fn relay_opened(&self, node: &str, epoch: u64, conn: u64) {
        lock(&self.links)
            .inbound
            .entry(node.to_string())
            .or_default()
            .insert((epoch, conn));
    }

    pub fn relay_closed(&self, node: &str, epoch: u64, conn: u64) {
        let mut links = lock(&self.links);
        if let Some(conns) = links.inbound.get_mut(node) {
            conns.remove(&(epoch, conn));
            if conns.is_empty() {
                links.inbound.remove(node);
            }
        }
    }

    /// Node `node`'s liveness record: its state and epoch, `None` when it has none (dead).
    async fn alive(&self, node: &str) -> Result<Option<(String, u64)>, ClusterError> {
        let mut redis = self.redis.clone();
        let record: Option<String> = redis::cmd("GET")
            .arg(wire::node_key(node))
            .query_async(&mut redis)
            .await?;
        Ok(record.and_then(|r| wire::parse_alive(&r).map(|(s, e)| (s.to_string(), e))))
    }

    /// Where room `uri` lives: here when this node holds it (or takes it now), else the node
    /// that does. A new room goes to this node, or, while this node drains, to another live
    /// node that does not.
    /// `here`: the room exists on this node.
    pub async fn place(
        &self,
        uri: &str,
        here: bool,
        draining: bool,
    ) -> Result<Placement, ClusterError> {
        if here {
            return Ok(Placement::Here);
        }
        let mut redis = self.redis.clone();
        let key = wire::room_key(uri);
        for _ in 0..3 {
            let holder: Option<String> =
                redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
            match holder {
                Some(node) if node == self.node => {
                    lock(&self.held)
                        .entry(uri.to_string())
                        .or_insert(Some(Instant::now()));
                    return Ok(Placement::Here);
                }
                Some(node) => {
                    if self.alive(&node).await?.is_some() {
                        return Ok(Placement::There(node));
                    }
                    // Its holder died: the record goes before its lease would.
                    info!(room = %uri, node = %node, "cluster: room held by a dead node is released");
                    redis::Script::new(RELEASE)
                        .key(&key)
                        .arg(&node)
                        .invoke_async::<i64>(&mut redis)
                        .await?;
                }
                None => {
                    let target = if draining {
                        self.live_node().await?.unwrap_or_else(|| self.node.clone())
                    } else {
                        self.node.clone()
                    };
                    let set: Option<String> = redis::cmd("SET")
                        .arg(&key)
                        .arg(&target)
                        .arg("PX")
                        .arg(self.lease_ms())
                        .arg("NX")
                        .query_async(&mut redis)
                        .await?;
                    if set.is_some() {
                        info!(room = %uri, node = %target, "cluster: room placed");
                        if target == self.node {
                            lock(&self.held).insert(uri.to_string(), Some(Instant::now()));
                            return Ok(Placement::Here);
                        }
                        return Ok(Placement::There(target));
                    }
                    // Another node placed it meanwhile: read again.
                }
            }
        }
        Err(ClusterError::NoPlacement(uri.to_string()))
    }

    /// Another live node that is not draining, if any.
    async fn live_node(&self) -> Result<Option<String>, ClusterError> {
        let mut nodes: Vec<(String, String)> = self.others().await?;
        nodes.sort();
        Ok(nodes
            .into_iter()
            .find(|(_, state)| state == "live")
            .map(|(node, _)| node))
    }

    /// The other live nodes and their states (`live`, `draining`), in one round trip after
    /// the members' list. Members whose liveness record expired are dropped from it.
    async fn others(&self) -> Result<Vec<(String, String)>, ClusterError> {
        let mut redis = self.redis.clone();
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(wire::NODES)
            .query_async(&mut redis)
            .await?;
        let nodes: Vec<String> = nodes.into_iter().filter(|n| *n != self.node).collect();
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let mut get = redis::pipe();
        for node in &nodes {
            get.cmd("GET").arg(wire::node_key(node));
        }
        let records: Vec<Option<String>> = get.query_async(&mut redis).await?;
        let mut live = Vec::new();
        for (node, record) in nodes.into_iter().zip(records) {
            match record.as_deref().and_then(wire::parse_alive) {
                Some((state, _)) => live.push((node, state.to_string())),
                None => {
                    redis::cmd("SREM")
                        .arg(wire::NODES)
                        .arg(&node)
                        .query_async::<i64>(&mut redis)
                        .await?;
                }
            }
        }
        Ok(live)
    }

    /// One round of upkeep: this node's liveness record, the leases of its rooms, and the
    /// liveness of the nodes it exchanges room sessions with (returned: the dead ones).
    async fn upkeep(&self, view: NodeView) -> Result<Vec<String>, ClusterError> {
        let NodeView {
            rooms,
            draining,
            accounts,
        } = view;
        let mut redis = self.redis.clone();
        let state = format!(
            "{} {}",
            if draining { "draining" } else { "live" },
            self.epoch
        );
        // The presence record is replaced in one transaction: never seen empty midway.
        let presence = wire::presence_key(&self.node);
        let mut replace = redis::pipe();
        replace.atomic().cmd("DEL").arg(&presence).ignore();
        if !accounts.is_empty() {
            replace.cmd("SADD").arg(&presence).arg(&accounts).ignore();
        }
        replace
            .cmd("PEXPIRE")
            .arg(&presence)
            .arg(self.lease_ms())
            .ignore()
            .query_async::<()>(&mut redis)
            .await?;
        redis::pipe()
            .cmd("SET")
            .arg(wire::node_key(&self.node))
            .arg(state)
            .arg("PX")
            .arg(self.lease_ms())
            .ignore()
            .cmd("SET")
            .arg(wire::url_key(&self.node))
            .arg(&self.base_url)
            .arg("PX")
            .arg(self.lease_ms())
            .ignore()
            .cmd("SADD")
            .arg(wire::NODES)
            .arg(&self.node)
            .ignore()
            .query_async::<()>(&mut redis)
            .await?;
        let ended: Vec<String> = {
            let mut held = lock(&self.held);
            // A room placed here a moment ago may not exist yet (its join is under way).
            let ended = held
                .iter()
                .filter(|(uri, placed)| {
                    !rooms.contains(*uri) && placed.is_none_or(|t| t.elapsed() > PLACING)
                })
                .map(|(uri, _)| uri.clone())
                .collect::<Vec<_>>();
            for uri in &ended {
                held.remove(uri);
            }
            for uri in &rooms {
                held.insert(uri.clone(), None);
            }
            ended
        };
        // The rooms here, and those placed here whose first join is under way (their record
        // must not lapse before the room exists).
        let renew: Vec<String> = lock(&self.held).keys().cloned().collect();
        for uri in &renew {
            let ok: i64 = redis::Script::new(RENEW)
                .key(wire::room_key(uri))
                .arg(&self.node)
                .arg(self.lease_ms())
                .invoke_async(&mut redis)
                .await?;
            if ok == 0 {
                warn!(room = %uri, "cluster: this room is held by another node too");
            }
        }
        for uri in ended {
            redis::Script::new(RELEASE)
                .key(wire::room_key(&uri))
                .arg(&self.node)
                .invoke_async::<i64>(&mut redis)
                .await?;
            debug!(room = %uri, "cluster: room released");
        }
        // Every other live node hears which of this node's connections relay to it (a lost
        // `Close` is caught up with); the nodes this node has links with are checked: dead,
        // or restarted (another epoch), they are gone.
        let others = self.others().await?;
        let (out, mut peers): (HashMap<String, Vec<u64>>, HashSet<String>) = {
            let links = lock(&self.links);
            let out = links
                .out
                .iter()
                .map(|(n, c)| (n.clone(), c.iter().copied().collect()))
                .collect();
            let peers = links
                .out
                .keys()
                .chain(links.inbound.keys())
                .cloned()
                .collect();
            (out, peers)
        };
        for (node, _) in &others {
            self.to_node(
                node,
                &Wire::Links {
                    from: self.node.clone(),
                    epoch: self.epoch,
                    conns: out.get(node).cloned().unwrap_or_default(),
                },
            );
        }
        peers.extend(lock(&self.links).epochs.keys().cloned());
        let mut dead = Vec::new();
        for node in peers {
            let now = self.alive(&node).await?.map(|(_, epoch)| epoch);
            let mut links = lock(&self.links);
            let before = links.epochs.get(&node).copied();
            let gone = match (before, now) {
                (_, None) => true,
                (Some(b), Some(n)) => b != n,
                (None, Some(_)) => false,
            };
            match now {
                Some(n) => {
                    links.epochs.insert(node.clone(), n);
                }
                None => {
                    links.epochs.remove(&node);
                }
            }
            if gone {
                links.out.remove(&node);
                links.inbound.remove(&node);
                dead.push(node);
            }
        }
        Ok(dead)
    }

    /// The base URL of the node holding room `uri`, when another live node holds it.
    pub async fn holder_url(&self, uri: &str) -> Option<String> {
        let found = async {
            let mut redis = self.redis.clone();
            let holder: Option<String> = redis::cmd("GET")
                .arg(wire::room_key(uri))
                .query_async(&mut redis)
                .await?;
            match holder {
                Some(node) if node != self.node => Ok::<Option<String>, ClusterError>(
                    redis::cmd("GET")
                        .arg(wire::url_key(&node))
                        .query_async(&mut redis)
                        .await?,
                ),
                _ => Ok(None),
            }
        }
        .await;
        found.unwrap_or_else(|e| {
            warn!(error = %e, "cluster: room holder not known");
            None
        })
    }

    /// Whether `account` is authenticated on a connection of another live node (its
    /// presence record, renewed every second; a dead node's lasts until its lease ends). On
    /// a Redis failure: `false`.
    pub async fn online_elsewhere(&self, account: &str) -> bool {
        let found = async {
            let nodes = self.others().await?;
            if nodes.is_empty() {
                return Ok::<bool, ClusterError>(false);
            }
            let mut redis = self.redis.clone();
            let mut ask = redis::pipe();
            for (node, _) in &nodes {
                ask.cmd("SISMEMBER")
                    .arg(wire::presence_key(node))
                    .arg(account);
            }
            let there: Vec<bool> = ask.query_async(&mut redis).await?;
            Ok(there.into_iter().any(|t| t))
        }
        .await;
        found.unwrap_or_else(|e| {
            warn!(error = %e, "cluster: presence not known");
            false
        })
    }

    /// At shutdown: this node's records go at once (its rooms can be placed anew).
    pub async fn leave(&self) {
        let mut redis = self.redis.clone();
        let held: Vec<String> = lock(&self.held).drain().map(|(uri, _)| uri).collect();
        for uri in held {
            let _ = redis::Script::new(RELEASE)
                .key(wire::room_key(&uri))
                .arg(&self.node)
                .invoke_async::<i64>(&mut redis)
                .await;
        }
        let _ = redis::cmd("DEL")
            .arg(wire::node_key(&self.node))
            .arg(wire::url_key(&self.node))
            .arg(wire::presence_key(&self.node))
            .query_async::<i64>(&mut redis)
            .await;
        let _ = redis::cmd("SREM")
            .arg(wire::NODES)
            .arg(&self.node)
            .query_async::<i64>(&mut redis)
            .await;
        info!(node = %self.node, "cluster: left");
    }
}

/// Runs the node's part of the cluster: the publisher, the subscriber (what it hears goes to
/// `inbound`), the upkeep.
pub async fn serve(cluster: Arc<Cluster>, state: NodeState, inbound: mpsc::Sender<Inbound>) {
    let Some(outbox) = lock(&cluster.outbox_rx).take() else {
        return;
    };
    tokio::spawn(publisher(cluster.clone(), outbox));
    tokio::spawn(subscriber(cluster.clone(), inbound.clone()));
    // At least once a second: a drain, a presence, a room's end are seen soon, whatever the
    // lease (a few small Redis commands per node and room).
    let mut tick = tokio::time::interval((cluster.lease / 3).min(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match cluster.upkeep(state()).await {
            Ok(dead) => {
                for node in dead {
                    warn!(node = %node, "cluster: node gone (its liveness record expired, or it restarted)");
                    let _ = inbound.send(Inbound::NodeGone(node)).await;
                }
            }
            Err(e) => warn!(error = %e, "cluster: upkeep failed"),
        }
    }
}

/// Publishes the outbox in order; what queued while a round trip was under way goes out in
/// one pipeline (up to [`PUBLISH_BATCH`] messages), so a burst costs few round trips.
async fn publisher(cluster: Arc<Cluster>, mut outbox: mpsc::Receiver<(String, String)>) {
    let mut redis = cluster.redis.clone();
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while outbox.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        match pipe.query_async::<()>(&mut redis).await {
            Ok(()) => count("published", batch.len()),
            Err(e) => {
                count("dropped", batch.len());
                warn!(error = %e, messages = batch.len(), "cluster: publish failed");
            }
        }
        batch.clear();
    }
}

/// Bus messages published in one pipeline at most.
const PUBLISH_BATCH: usize = 64;

async fn subscriber(cluster: Arc<Cluster>, inbound: mpsc::Sender<Inbound>) {
    let own = wire::node_channel(&cluster.node);
    loop {
        let connect = tokio::time::timeout(cluster.lease, cluster.client.get_async_pubsub());
        match connect.await.unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "connecting timed out",
            )))
        }) {
            Ok(mut pubsub) => {
                let subscribed = async {
                    pubsub.subscribe(wire::ACCOUNTS).await?;
                    pubsub.subscribe(&own).await
                }
                .await;
                match subscribed {
                    Ok(()) => {
                        info!(node = %cluster.node, "cluster: on the bus");
                        cluster.on_bus.store(true, Ordering::Relaxed);
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            match Wire::decode(msg.get_payload_bytes()) {
                                Some(m) => {
                                    count("received", 1);
                                    if inbound.send(Inbound::Message(m)).await.is_err() {
                                        return;
                                    }
                                }
                                None => {
                                    count("malformed", 1);
                                    warn!(
                                        channel = msg.get_channel_name(),
                                        bytes = msg.get_payload_bytes().len(),
                                        "cluster: malformed bus message dropped"
                                    )
                                }
                            }
                        }
                        cluster.on_bus.store(false, Ordering::Relaxed);
                        warn!("cluster: bus connection lost, reconnecting");
                    }
                    Err(e) => warn!(error = %e, "cluster: cannot subscribe"),
                }
            }
            Err(e) => warn!(error = %e, "cluster: cannot reach redis"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
