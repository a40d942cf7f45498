//! The task that owns one WebSocket: it reads frames, answers what must be answered at once,
//! queues valid requests for the connection's [`Connection`] worker, writes the outbox, and
//! pings the client.
//!
//! * `ready-event` is the first thing sent.
//! * A validation error and a `ping` are answered here, at once; a `ping` never waits behind
//!   a slow request.
//! * Other valid requests go to the worker's FIFO (bounded). When it is full this task stops
//!   reading frames (TCP pushes back on the client) but keeps writing, so nothing deadlocks
//!   and nothing is dropped.
//! * WebSocket pings every `websocket_ping_interval`; no pong within half of it drops the
//!   connection.
//! * A frame or message over `max_frame_size` closes this connection with 1009.
//! * A client that stops reading is dropped: every write has a deadline
//!   (`limits.websocket_write_timeout`), and a full outbox (events pile up faster than the
//!   client takes them) closes the connection at once, even while a write is under way.
//! * A client's Close frame is answered with a Close frame (the closing handshake).
//! * Whatever the connection held (calls with BYE, registrations, room sessions, ports) is
//!   released by its worker when the connection ends, however it ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use signaling::sylkrtc::{self, Event, Parsed, Request};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use crate::connection::{ConnHandle, Connection, Outbound, Queued};
use crate::server::App;

/// Requests queued for the worker before this task stops reading.
const REQUEST_QUEUE: usize = 256;
/// Messages queued for the client. Producers other than the worker must not block on it.
const OUTBOX: usize = 1024;

/// Close codes (RFC 6455 §7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_INTERNAL: u16 = 1011;

/// Why a connection ended (for the log).
enum End {
    ClientClosed,
    Lost(String),
    PingTimeout,
    TooBig,
    Protocol(String),
    Shutdown,
    TooSlow,
    WriteTimeout,
    HandlerFailed,
    Operator,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::ClientClosed => f.write_str("closed by client"),
            End::Lost(e) => write!(f, "connection lost: {e}"),
            End::PingTimeout => f.write_str("no pong within the ping timeout"),
            End::TooBig => f.write_str("frame over the size limit"),
            End::Protocol(e) => write!(f, "protocol error: {e}"),
            End::Shutdown => f.write_str("server shutting down"),
            End::TooSlow => f.write_str("client too slow to take its events"),
            End::WriteTimeout => f.write_str("a write did not complete in time"),
            End::HandlerFailed => f.write_str("internal error in the request handler"),
            End::Operator => f.write_str("closed by the operator"),
        }
    }
}

pub async fn run(
    socket: WebSocket,
    app: Arc<App>,
    peer: SocketAddr,
    origin: Option<String>,
    _admitted: crate::access::Admitted,
) {
    let _live = app.connection_started();
    let id = app.next_connection_id();
    let started = Instant::now();
    info!(conn = id, %peer, origin = origin.as_deref().unwrap_or("-"), "websocket connection opened");

    let (out_tx, out_rx) = mpsc::channel(OUTBOX);
    let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
    let (orders_tx, orders_rx) = mpsc::channel(crate::connection::ORDERS);
    let handle = ConnHandle::new(id, peer.ip(), out_tx.clone(), orders_tx);
    let kick = handle.kick.clone();
    let worker = tokio::spawn(Connection::new(handle, app.clone(), out_tx, orders_rx).run(req_rx));

    let mut socket = socket;
    let end = Actor {
        id,
        app: &app,
        req_tx,
        out_rx,
        kick,
        write_timeout: app.config.limits.websocket_write_timeout(),
    }
    .drive(&mut socket)
    .await;

    // Dropping the actor closed the worker's channels; it forgets the connection's state.
    let _ = worker.await;
    info!(
        conn = id,
        %peer,
        reason = %end,
        duration_ms = started.elapsed().as_millis() as u64,
        "websocket connection closed"
    );
}

struct Actor<'a> {
    id: u64,
    app: &'a App,
    req_tx: mpsc::Sender<Queued>,
    out_rx: mpsc::Receiver<Outbound>,
    kick: std::sync::Arc<tokio::sync::Notify>,
    write_timeout: Duration,
}

impl Actor<'_> {
    async fn drive(mut self, socket: &mut WebSocket) -> End {
        // Subscribed before anything is awaited, so a shutdown cannot slip past.
        let mut shutdown = self.app.shutdown_signal();
        if *shutdown.borrow_and_update() {
            close(socket, CLOSE_GOING_AWAY, "server shutting down").await;
            return End::Shutdown;
        }
        match self.drive_open(socket, &mut shutdown).await {
            Ok(end) => end,
            Err(end) => {
                let (code, reason) = match end {
                    End::TooSlow => (CLOSE_POLICY, "too slow: events could not be delivered"),
                    End::HandlerFailed => (CLOSE_INTERNAL, "internal error"),
                    // Nothing more can be written (the write timed out, or the socket failed).
                    _ => return end,
                };
                close(socket, code, reason).await;
                end
            }
        }
    }

    /// One write to the client, within the write deadline; a full outbox (`kick`) ends it
    /// early, since the worker must never wait on a client that does not read.
    async fn write(&self, socket: &mut WebSocket, message: Message) -> Result<(), End> {
        tokio::select! {
            biased;
            _ = self.kick.notified() => Err(End::TooSlow),
            sent = timeout(self.write_timeout, socket.send(message)) => match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(End::Lost(e.to_string())),
                Err(_) => {
                    warn!(conn = self.id, timeout_s = self.write_timeout.as_secs_f64(), "websocket write timed out, dropping the client");
                    Err(End::WriteTimeout)
                }
            },
        }
    }

    /// Runs until the connection ends: `Ok` when it is closed already, `Err` when a close
    /// frame may still be sent.
    async fn drive_open(
        &mut self,
        socket: &mut WebSocket,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<End, End> {
        self.write(socket, Message::Text(Event::Ready.to_json().into()))
            .await?;
        let ping_every = self.app.config.ping_interval();
        let mut next_ping = Instant::now() + ping_every;
        let mut pong_deadline: Option<Instant> = None;
        let mut pending: Option<Queued> = None;

        loop {
            let wake = pong_deadline.map_or(next_ping, |d| d.min(next_ping));
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    close(socket, CLOSE_GOING_AWAY, "server shutting down").await;
                    return Ok(End::Shutdown);
                }
                _ = self.kick.notified() => return Err(End::TooSlow),
                out = self.out_rx.recv() => match out {
                    Some(Outbound::Text(text)) => {
                        self.write(socket, Message::Text(text.into())).await?
                    }
                    Some(Outbound::Failed) => return Err(End::HandlerFailed),
                    Some(Outbound::Closed) => {
                        close(socket, CLOSE_GOING_AWAY, "closed by the operator").await;
                        return Ok(End::Operator);
                    }
                    // The worker holds a sender until this actor is dropped.
                    None => {}
                },
                permit = self.req_tx.reserve(), if pending.is_some() => {
                    match (permit, pending.take()) {
                        (Ok(permit), Some(request)) => permit.send(request),
                        _ => return Ok(End::Lost("request handler ended".into())),
                    }
                }
                frame = socket.recv(), if pending.is_none() => {
                    let frame = match frame {
                        None => return Ok(End::Lost("end of stream".into())),
                        Some(Err(e)) => return Ok(self.read_error(socket, e).await),
                        Some(Ok(frame)) => frame,
                    };
                    match frame {
                        Message::Text(text) => {
                            if let Some(request) = self.on_text(socket, text.as_str()).await? {
                                if let Err(e) = self.req_tx.try_send(request) {
                                    match e {
                                        mpsc::error::TrySendError::Full(r) => pending = Some(r),
                                        mpsc::error::TrySendError::Closed(_) => {
                                            return Ok(End::Lost("request handler ended".into()))
                                        }
                                    }
                                }
                            }
                        }
                        Message::Binary(data) => {
                            info!(conn = self.id, bytes = data.len(), "ignored binary frame");
                        }
                        Message::Pong(_) => pong_deadline = None,
                        // tungstenite answers pings itself.
                        Message::Ping(_) => {}
                        Message::Close(_) => {
                            // tungstenite queued the answering Close frame when it read this
                            // one; flushing sends it, which completes the closing handshake.
                            let _ = timeout(Duration::from_secs(2), socket.flush()).await;
                            return Ok(End::ClientClosed);
                        }
                    }
                }
                _ = sleep_until(wake) => {
                    let now = Instant::now();
                    if pong_deadline.is_some_and(|d| now >= d) {
                        close(socket, CLOSE_POLICY, "ping timeout").await;
                        return Ok(End::PingTimeout);
                    }
                    if now >= next_ping {
                        self.write(socket, Message::Ping(Default::default())).await?;
                        if pong_deadline.is_none() {
                            pong_deadline = Some(now + ping_every / 2);
                        }
                        next_ping = now + ping_every;
                    }
                }
            }
        }
    }

    /// Parses one text frame; returns a request for the worker, after answering what is
    /// answered here.
    async fn on_text(&self, socket: &mut WebSocket, text: &str) -> Result<Option<Queued>, End> {
        match sylkrtc::parse(text) {
            Parsed::Request(Request::Ping(ping)) => {
                self.send_event(socket, &Event::ack(ping.transaction))
                    .await?;
                Ok(None)
            }
            Parsed::Request(request) => {
                debug!(
                    conn = self.id,
                    request = request.kind(),
                    transaction = request.transaction(),
                    "request"
                );
                // The text is kept only where it may be relayed: a room request on a node
                // of a cluster.
                let relayable =
                    self.app.cluster.get().is_some() && request.kind().starts_with("videoroom-");
                Ok(Some(Queued {
                    request,
                    text: if relayable {
                        text.to_string()
                    } else {
                        String::new()
                    },
                    account: None,
                }))
            }
            Parsed::Rejected {
                transaction,
                kind,
                error,
            } => {
                warn!(conn = self.id, request = %kind, transaction = %transaction, error = %redacted(&error), "request failed validation");
                self.send_event(socket, &Event::error(transaction, error))
                    .await?;
                Ok(None)
            }
            Parsed::Ignored(why) => {
                info!(conn = self.id, reason = %redacted(&why.to_string()), "ignored message");
                Ok(None)
            }
        }
    }

    async fn send_event(&self, socket: &mut WebSocket, event: &Event) -> Result<(), End> {
        self.write(socket, Message::Text(event.to_json().into()))
            .await
    }

    async fn read_error(&self, socket: &mut WebSocket, e: axum::Error) -> End {
        use tungstenite::error::{CapacityError, Error as WsError};
        let inner = e.into_inner();
        match inner.downcast_ref::<WsError>() {
            Some(WsError::Capacity(
                CapacityError::MessageTooLong { .. } | CapacityError::TooManyHeaders,
            )) => {
                let limit = self.app.config.max_frame_size;
                warn!(conn = self.id, limit, "frame over the size limit, closing");
                close(
                    socket,
                    CLOSE_TOO_BIG,
                    &format!("message too big: the limit is {limit} bytes"),
                )
                .await;
                End::TooBig
            }
            Some(WsError::Protocol(p)) => {
                let text = p.to_string();
                close(socket, CLOSE_PROTOCOL_ERROR, &text).await;
                End::Protocol(text)
            }
            Some(WsError::Utf8(_)) => {
                close(socket, 1007, "invalid UTF-8 in a text frame").await;
                End::Protocol("invalid UTF-8".into())
            }
            _ => End::Lost(inner.to_string()),
        }
    }
}

/// A validation error fit for the log: a wrongly typed password is shown in the error text
/// the client gets back, but must not reach the log.
fn redacted(error: &str) -> std::borrow::Cow<'_, str> {
    const PASSWORD: &str = "Invalid value for 'password' property: ";
    match error.find(PASSWORD) {
        Some(at) => format!("{}{PASSWORD}<redacted>", &error[..at]).into(),
        None => error.into(),
    }
}

/// Sends a close frame, not waiting long for a peer that may be gone.
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = timeout(
        Duration::from_secs(2),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}
