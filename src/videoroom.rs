//! The videoroom requests (§2.4) and the media events that complete them (§3.4).
//!
//! A connection's room sessions (its publishers) and feeds (its subscriptions) live here;
//! the rooms themselves, shared with other connections, live in [`crate::rooms`]. Media goes
//! through the engine: a publisher peer answers the browser's offer, a feed peer offers the
//! publisher's media to the browser.

use std::time::Instant;

use media::{ForwardOptions, MediaError, MediaEvent, PeerEvent, PeerId};
use signaling::sylkrtc::{
    self, AccountEvent, ChatMessageType, Event, Identity, RoomSessionState, VideoroomEvent,
};
use tracing::{info, warn};

use crate::connection::{ApiError, Connection};
use crate::rooms::{JoinRefused, Participant};
use signaling::rate::TokenBucket;

/// A publisher session of this connection.
pub struct RoomSession {
    pub room: String,
    pub peer: PeerId,
    pub account: String,
    /// What the participant may still broadcast to the room (chat, composing, hands, mutes,
    /// configure): `limits.room_broadcast_rate` / `room_broadcast_burst`.
    pub broadcasts: TokenBucket,
}

/// A feed (subscription) of this connection.
pub struct Feed {
    pub parent: String,
    pub publisher: String,
    pub peer: PeerId,
}

/// What a peer of this connection is.
pub enum PeerOwner {
    Publisher(String),
    Feed(String),
}

fn unknown_room_session(id: &str) -> ApiError {
    ApiError::Api(format!("Unknown room session: {id}"))
}

/// The current time as ISO 8601 UTC with milliseconds (`2026-07-17T08:41:52.123+00:00`).
pub fn now_iso() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// A random UUID (version 4) as text.
pub fn uuid4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Connection {
    fn room_session(&self, id: &str) -> Result<&RoomSession, ApiError> {
        self.room_sessions
            .get(id)
            .ok_or_else(|| unknown_room_session(id))
    }

    /// The room of session `id` for one broadcast to its participants, within the
    /// participant's broadcast rate.
    fn broadcast_room(&mut self, id: &str) -> Result<String, ApiError> {
        self.broadcast_room_n(id, 1)
    }

    /// As [`Self::broadcast_room`] for `n` broadcasts at once (invitations, one each).
    fn broadcast_room_n(&mut self, id: &str, n: usize) -> Result<String, ApiError> {
        let now = Instant::now();
        let rs = self
            .room_sessions
            .get_mut(id)
            .ok_or_else(|| unknown_room_session(id))?;
        if rs
            .broadcasts
            .take_n(u32::try_from(n).unwrap_or(u32::MAX), now)
        {
            return Ok(rs.room.clone());
        }
        let limits = &self.app.config.limits;
        let text = format!(
            "Too many room messages: at most {} at once and {} per second",
            limits.room_broadcast_burst, limits.room_broadcast_rate
        );
        Err(self.refused(now, text))
    }

    /// The peer of a publisher session or a feed of this connection.
    fn any_room_peer(&self, id: &str) -> Result<PeerId, ApiError> {
        if let Some(s) = self.room_sessions.get(id) {
            return Ok(s.peer);
        }
        self.feeds
            .get(id)
            .map(|f| f.peer)
            .ok_or_else(|| unknown_room_session(id))
    }

    pub(crate) async fn videoroom_join(
        &mut self,
        r: sylkrtc::VideoroomJoinRequest,
    ) -> Result<(), ApiError> {
        if self.session_in_use(&r.session) {
            return Err(ApiError::Api(format!(
                "Session ID {} already in use",
                r.session
            )));
        }
        let account = self.account(&r.account)?.clone();
        if self.app.draining() {
            return Err(ApiError::Api(crate::server::SHUTTING_DOWN.into()));
        }
        let settings = self.app.config.room_settings(&r.uri);
        if settings.is_some_and(|s| !s.allows(&account.id)) {
            info!(conn = self.id, room = %r.uri, account = %account.id, "join refused by the room's access policy");
            return Err(ApiError::Api(format!(
                "{} is not allowed to join room {}",
                account.id, r.uri
            )));
        }
        // An audio-only room (`video_disabled`) is made without video, whatever is asked.
        let video_allowed = !settings.is_some_and(|s| s.video_disabled);
        let invite: Vec<String> = settings
            .map(|s| s.invite_participants.clone())
            .unwrap_or_default();
        let persistent = settings.is_some_and(|s| s.persistent);
        let limits = &self.app.config.limits;
        if self.room_sessions.len() >= limits.max_room_sessions_per_connection {
            let max = limits.max_room_sessions_per_connection;
            return Err(self.refused(
                Instant::now(),
                format!("Too many room sessions on this connection (at most {max})"),
            ));
        }
        let engine = self.app.engine.clone();
        let reserved =
            self.app
                .rooms()
                .reserve(&r.session, &r.uri, limits.max_room_participants, || {
                    engine.place_room()
                });
        let shard = match reserved {
            Ok(shard) => shard,
            Err(JoinRefused::InUse) => {
                return Err(ApiError::Api(format!(
                    "Session ID {} already in use",
                    r.session
                )))
            }
            Err(JoinRefused::Full { max }) => {
                info!(conn = self.id, room = %r.uri, max, "room full: join refused");
                return Err(ApiError::Api(format!(
                    "Maximum number of publishers ({max}) already reached"
                )));
            }
        };
        let peer = self.app.engine.new_peer_id_on(shard);
        let answer = match self
            .app
            .engine
            .publish(
                peer,
                r.sdp,
                video_allowed,
                self.app.config.room_video_codec(&r.uri),
                crate::rooms::mix_id(&r.uri),
                self.media_tx.clone(),
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                self.app.rooms().unreserve(&r.session);
                return Err(ApiError::media(e));
            }
        };
        self.send(Event::videoroom(
            r.session.clone(),
            VideoroomEvent::SessionState(RoomSessionState::Progress),
        ))
        .await;
        let participant = Participant {
            session: r.session.clone(),
            member: crate::rooms::Member::Browser(self.handle.clone()),
            account: account.id.clone(),
            display_name: account.display_name.clone(),
            peer,
            attached: Default::default(),
            muted: false,
            spoke: None,
        };
        let joined = self.app.rooms().join(
            &r.uri,
            r.audio.unwrap_or(true),
            r.video.unwrap_or(true) && video_allowed,
            participant,
        );
        self.room_sessions.insert(
            r.session.clone(),
            RoomSession {
                room: r.uri.clone(),
                peer,
                account: account.id.clone(),
                broadcasts: TokenBucket::new(
                    self.app.config.limits.room_broadcast_rate,
                    self.app.config.limits.room_broadcast_burst,
                    Instant::now(),
                ),
            },
        );
        self.peers
            .insert(peer, PeerOwner::Publisher(r.session.clone()));
        self.share_bitrate(&r.uri).await;
        let mut files = joined.files;
        if joined.created && persistent {
            let kept = crate::filesharing::kept_files(&self.app, &r.uri).await;
            if !kept.is_empty() {
                info!(conn = self.id, room = %r.uri, files = kept.len(), "persistent room: its kept files are shared again");
                self.app.rooms().restore_files(&r.uri, kept.clone());
                files = kept;
            }
        }
        if joined.created && !invite.is_empty() {
            // `invite_participants`: the room's first participant invites them.
            let originator = Identity::new(&account.id, account.display_name.as_deref());
            info!(conn = self.id, room = %r.uri, invited = invite.len(), "room created: inviting its invite_participants");
            let offline = self.invite(&r.uri, &originator, &invite);
            if self.app.config.room_dial_out {
                self.dial_out(&r.uri, &account.id, &r.session, offline);
            }
        }
        let session = r.session;
        let ev = |e| Event::videoroom(session.clone(), e);
        self.after_ack.push(ev(VideoroomEvent::SessionState(
            RoomSessionState::Accepted {
                sdp: answer,
                audio: joined.audio,
                video: joined.video,
                duration: Some(joined.duration),
            },
        )));
        self.after_ack.push(ev(VideoroomEvent::InitialPublishers {
            publishers: joined.publishers,
        }));
        if !joined.active.is_empty() {
            self.after_ack.push(ev(VideoroomEvent::Configure {
                originator: "videoroom".into(),
                active_participants: joined.active,
            }));
        }
        if !files.is_empty() {
            self.after_ack
                .push(ev(VideoroomEvent::FileSharing { files }));
        }
        if !joined.hands.is_empty() {
            self.after_ack.push(ev(VideoroomEvent::RaisedHands {
                raised_hands: joined.hands,
            }));
        }
        for message in joined.chat {
            self.after_ack.push(ev(message));
        }
        Ok(())
    }

    pub(crate) async fn videoroom_leave(&mut self, session: &str) -> Result<(), ApiError> {
        if !self.room_sessions.contains_key(session) {
            return Err(unknown_room_session(session));
        }
        self.send(Event::videoroom(session.to_string(), terminated_event()))
            .await;
        self.drop_room_session(session).await;
        Ok(())
    }

    /// Removes a publisher session and its feeds, and takes it out of its room.
    pub(crate) async fn drop_room_session(&mut self, session: &str) {
        let Some(rs) = self.room_sessions.remove(session) else {
            return;
        };
        self.peers.remove(&rs.peer);
        self.app.engine.close(rs.peer).await;
        let feeds: Vec<String> = self
            .feeds
            .iter()
            .filter(|(_, f)| f.parent == session)
            .map(|(id, _)| id.clone())
            .collect();
        for id in feeds {
            if let Some(f) = self.feeds.remove(&id) {
                self.peers.remove(&f.peer);
                self.app.engine.close(f.peer).await;
            }
        }
        let left = self.app.rooms().leave(&rs.room, session);
        if let Some(room) = left.and_then(|l| l.destroyed) {
            crate::filesharing::room_destroyed(&self.app, room);
        } else {
            self.share_bitrate(&rs.room).await;
        }
    }

    pub(crate) async fn videoroom_configure(
        &mut self,
        r: sylkrtc::VideoroomConfigureRequest,
    ) -> Result<(), ApiError> {
        let room = self.broadcast_room(&r.session)?;
        self.app
            .rooms()
            .configure(&room, &r.session, r.active_participants)
            .map_err(ApiError::Api)?;
        self.share_bitrate(&room).await;
        Ok(())
    }

    /// Shares room `uri`'s `max_bitrate` among its publishers again (someone joined or left,
    /// the active participants changed); nothing when the room has no cap.
    async fn share_bitrate(&self, uri: &str) {
        let Some(max) = self.app.config.room_max_bitrate(uri) else {
            return;
        };
        let shares = self.app.rooms().bitrates(uri, max);
        for (peer, bitrate) in shares {
            self.app.engine.set_max_bitrate(peer, Some(bitrate)).await;
        }
    }

    pub(crate) async fn videoroom_feed_attach(
        &mut self,
        r: sylkrtc::VideoroomFeedAttachRequest,
    ) -> Result<(), ApiError> {
        // In SylkServer's order: the feed id first, then the session, then the publisher.
        if self.feeds.contains_key(&r.feed)
            || self.room_sessions.contains_key(&r.feed)
            || self.remote.contains(&r.feed)
        {
            return Err(ApiError::Api(format!(
                "Video room session ID {} already in use",
                r.feed
            )));
        }
        let room = self.room_session(&r.session)?.room.clone();
        let max = self.app.config.limits.max_feeds_per_connection;
        if self.feeds.len() >= max {
            return Err(self.refused(
                Instant::now(),
                format!("Too many feeds on this connection (at most {max})"),
            ));
        }
        let (publisher_peer, audio, video) = {
            let rooms = self.app.rooms();
            let room = rooms.room(&room);
            let publisher = room.and_then(|room| room.get(&r.publisher));
            match (room, publisher) {
                // A phone's feed is its voice only.
                (Some(room), Some(p)) => (p.peer, room.audio, room.video && !p.is_phone()),
                _ => {
                    return Err(ApiError::Api(format!(
                        "Unknown publisher room session to attach to: {}",
                        r.publisher
                    )))
                }
            }
        };
        // On the publisher's shard, as every peer of the room.
        let peer = self.app.engine.new_peer_id_on(publisher_peer.shard());
        let offer = self
            .app
            .engine
            .subscribe(peer, publisher_peer, audio, video, self.media_tx.clone())
            .await
            .map_err(|e| match e {
                MediaError::UnknownPeer => ApiError::Api(format!(
                    "Unknown publisher room session to attach to: {}",
                    r.publisher
                )),
                other => ApiError::media(other),
            })?;
        self.app.rooms().attach(&room, &r.session, &r.publisher);
        self.feeds.insert(
            r.feed.clone(),
            Feed {
                parent: r.session.clone(),
                publisher: r.publisher.clone(),
                peer,
            },
        );
        self.peers.insert(peer, PeerOwner::Feed(r.feed.clone()));
        self.after_ack.push(Event::videoroom(
            r.session,
            VideoroomEvent::FeedAttached {
                feed: r.feed,
                sdp: offer,
            },
        ));
        Ok(())
    }

    /// The feed `feed` of `session`, as SylkServer looks it up: the feed first (`unknown`
    /// is the error text when there is none), then whether `session` attached it.
    fn own_feed(&self, session: &str, feed: &str, unknown: &str) -> Result<PeerId, ApiError> {
        let is_session = self.room_sessions.contains_key(feed);
        match self.feeds.get(feed) {
            Some(f) if f.parent == session => Ok(f.peer),
            Some(_) => Err(ApiError::Api(format!(
                "{feed} is not an attached feed of {session}"
            ))),
            // A publisher session is a room session too, but no feed of anyone's.
            None if is_session => Err(ApiError::Api(format!(
                "{feed} is not an attached feed of {session}"
            ))),
            None => Err(ApiError::Api(format!("{unknown}: {feed}"))),
        }
    }

    pub(crate) async fn videoroom_feed_answer(
        &mut self,
        r: sylkrtc::VideoroomFeedAnswerRequest,
    ) -> Result<(), ApiError> {
        let peer = self.own_feed(&r.session, &r.feed, "Unknown room session")?;
        self.app
            .engine
            .answer(peer, r.sdp)
            .await
            .map_err(ApiError::media)
    }

    pub(crate) async fn videoroom_feed_detach(
        &mut self,
        r: sylkrtc::VideoroomFeedDetachRequest,
    ) -> Result<(), ApiError> {
        let peer = self.own_feed(&r.session, &r.feed, "Unknown room session to detach")?;
        let room = self.room_session(&r.session)?.room.clone();
        if let Some(f) = self.feeds.remove(&r.feed) {
            self.app.rooms().detach(&room, &r.session, &f.publisher);
        }
        self.peers.remove(&peer);
        self.app.engine.close(peer).await;
        Ok(())
    }

    pub(crate) fn videoroom_invite(
        &mut self,
        r: sylkrtc::VideoroomInviteRequest,
    ) -> Result<(), ApiError> {
        self.broadcast_room_n(&r.session, r.participants.len())?;
        let rs = self.room_session(&r.session)?;
        let originator = {
            let account = self.accounts.get(&rs.account);
            Identity::new(&rs.account, account.and_then(|a| a.display_name.as_deref()))
        };
        let room = rs.room.clone();
        let account = rs.account.clone();
        let offline = self.invite(&room, &originator, &r.participants);
        if self.app.config.room_dial_out {
            self.dial_out(&room, &account, &r.session, offline);
        }
        Ok(())
    }

    /// Calls invited addresses that no connection of this gateway has (phones, numbers) from
    /// `room`, as `account`; `session` (the inviter's) gets their `invite-status`.
    fn dial_out(&self, room: &str, account: &str, session: &str, targets: Vec<String>) {
        let Some(a) = self.accounts.get(account) else {
            return;
        };
        let Some(from) = signaling::sip::Aor::parse(&a.id) else {
            return;
        };
        for to in targets {
            let asked = self.app.phones.dial_out(crate::phones::DialOut {
                room: room.to_string(),
                account: a.id.clone(),
                from: from.clone(),
                display_name: a.display_name.clone(),
                user_agent: a.user_agent.clone(),
                ha1: signaling::sip::Ha1(a.password.expose().to_string()),
                to: to.clone(),
                inviter: session.to_string(),
            });
            if !asked {
                warn!(conn = self.id, room = %room, %to, "dial-out dropped: the phones' queue is full");
            }
        }
    }

    /// Invites `participants` (but the originator) to `room`: `conference-invite` to their
    /// live connections, a push to their devices. Returns those with no live connection.
    fn invite(&self, room: &str, originator: &Identity, participants: &[String]) -> Vec<String> {
        let mut offline = Vec::new();
        for invited in participants.iter().filter(|p| **p != originator.uri) {
            let session_id = uuid4();
            let event = Event::account(
                invited.clone(),
                AccountEvent::ConferenceInvite {
                    room: room.to_string(),
                    session_id: session_id.clone(),
                    originator: originator.clone(),
                },
            );
            let n = self
                .app
                .access
                .deliver(invited, Some(self.id), &event.to_json());
            info!(conn = self.id, room = %room, invited = %invited, connections = n, "conference invitation");
            if n == 0 {
                offline.push(invited.clone());
            }
            crate::push::notify(
                &self.app,
                invited,
                crate::push::Push::ConferenceInvite {
                    from: originator.uri.clone(),
                    from_display_name: originator.display_name.clone(),
                    room: room.to_string(),
                    session_id,
                },
            );
        }
        offline
    }

    pub(crate) async fn videoroom_session_trickle(
        &mut self,
        r: sylkrtc::VideoroomSessionTrickleRequest,
    ) -> Result<(), ApiError> {
        let peer = self.any_room_peer(&r.session)?;
        for c in r.candidates {
            let index = u16::try_from(c.sdp_m_line_index).ok();
            self.app
                .engine
                .candidate(peer, c.candidate, Some(c.sdp_mid), index)
                .await;
        }
        Ok(())
    }

    pub(crate) async fn videoroom_session_update(
        &mut self,
        r: sylkrtc::VideoroomSessionUpdateRequest,
    ) -> Result<(), ApiError> {
        let peer = self.any_room_peer(&r.session)?;
        if self.feeds.contains_key(&r.session) {
            let options = ForwardOptions {
                audio: r.options.audio,
                video: r.options.video,
                bitrate: r.options.bitrate,
            };
            self.app.engine.forward(peer, options).await;
        }
        Ok(())
    }

    pub(crate) fn videoroom_message(
        &mut self,
        r: sylkrtc::VideoroomMessageRequest,
    ) -> Result<(), ApiError> {
        let room = self.broadcast_room(&r.session)?;
        let sender = self.sender_identity(&r.session);
        let kind = if r.content_type == "application/sylk-status" {
            ChatMessageType::Status
        } else {
            ChatMessageType::Normal
        };
        self.app.rooms().chat(
            &room,
            &r.session,
            VideoroomEvent::Message {
                kind,
                content: r.content,
                content_type: r.content_type,
                sender,
                timestamp: now_iso(),
            },
        );
        self.after_ack.push(Event::videoroom(
            r.session,
            VideoroomEvent::MessageDelivery {
                message_id: r.message_id,
                delivered: true,
                code: 200,
                reason: "OK".into(),
            },
        ));
        Ok(())
    }

    fn sender_identity(&self, session: &str) -> Identity {
        let rs = self.room_sessions.get(session);
        let account = rs.and_then(|rs| self.accounts.get(&rs.account));
        Identity::new(
            rs.map(|rs| rs.account.as_str()).unwrap_or_default(),
            account.and_then(|a| a.display_name.as_deref()),
        )
    }

    pub(crate) fn videoroom_composing(
        &mut self,
        r: sylkrtc::VideoroomComposingIndicationRequest,
    ) -> Result<(), ApiError> {
        let room = self.broadcast_room(&r.session)?;
        let event = VideoroomEvent::ComposingIndication {
            state: r.state,
            refresh: r.refresh.unwrap_or(120),
            content_type: "text/plain".into(),
            sender: self.sender_identity(&r.session),
        };
        if let Some(room) = self.app.rooms().room(&room) {
            room.broadcast(&event, Some(&r.session));
        }
        Ok(())
    }

    pub(crate) fn videoroom_mute_audio(&mut self, session: &str) -> Result<(), ApiError> {
        let room = self.broadcast_room(session)?;
        if let Some(room) = self.app.rooms().room(&room) {
            room.broadcast(
                &VideoroomEvent::MuteAudio {
                    originator: session.to_string(),
                },
                None,
            );
        }
        Ok(())
    }

    pub(crate) fn videoroom_toggle_hand(
        &mut self,
        r: sylkrtc::VideoroomToggleHandRequest,
    ) -> Result<(), ApiError> {
        let room = self.broadcast_room(&r.session)?;
        let target = r.session_id.unwrap_or(r.session);
        self.app.rooms().toggle_hand(&room, &target);
        Ok(())
    }

    /// Appendix A: a WebRTC participant of the room gets `mute-request`.
    pub(crate) fn videoroom_mute_participant(
        &mut self,
        r: sylkrtc::VideoroomMuteParticipantRequest,
    ) -> Result<(), ApiError> {
        let room = self.broadcast_room(&r.session)?;
        let rooms = self.app.rooms();
        let target = rooms
            .room(&room)
            .and_then(|room| room.get(&r.participant_id))
            .ok_or_else(|| ApiError::Api(format!("Unknown participant: {}", r.participant_id)))?;
        let crate::rooms::Member::Browser(conn) = &target.member else {
            // A phone has no client to ask: the mix mutes it (Appendix A: "a SIP target is
            // muted via the focus"), and the room hears of it as of anyone's mute.
            let (peer, session) = (target.peer, target.session.clone());
            drop(rooms);
            let engine = self.app.engine.clone();
            tokio::spawn(async move { engine.mix_mute(peer, r.muted).await });
            self.app.rooms().set_muted(&room, &session, r.muted);
            return Ok(());
        };
        conn.deliver(
            Event::videoroom(
                target.session.clone(),
                VideoroomEvent::MuteRequest {
                    muted: r.muted,
                    originator: Some(r.session.clone()),
                },
            )
            .to_json(),
        );
        Ok(())
    }

    /// A media event from the engine about one of this connection's peers.
    pub(crate) async fn media_event(&mut self, event: MediaEvent) {
        let Some(owner) = self.peers.get(&event.peer) else {
            return;
        };
        match (owner, event.event) {
            (PeerOwner::Publisher(session), PeerEvent::Connected) => {
                let session = session.clone();
                info!(conn = self.id, %session, "publisher established");
                self.send(Event::videoroom(
                    session,
                    VideoroomEvent::SessionState(RoomSessionState::Established),
                ))
                .await;
            }
            (PeerOwner::Feed(feed), PeerEvent::Connected) => {
                let feed = feed.clone();
                if let Some(parent) = self.feeds.get(&feed).map(|f| f.parent.clone()) {
                    self.send(Event::videoroom(
                        parent,
                        VideoroomEvent::FeedEstablished { feed },
                    ))
                    .await;
                }
            }
            (PeerOwner::Publisher(session), PeerEvent::Closed(reason)) => {
                // As when Janus hangs up a publisher: no event to this client, the others
                // who attached its feed get publishers-left.
                let session = session.clone();
                warn!(conn = self.id, %session, %reason, "publisher media ended");
                self.drop_room_session(&session).await;
            }
            (PeerOwner::Publisher(session), PeerEvent::AudioLevel(level)) => {
                if let Some(rs) = self.room_sessions.get(session) {
                    self.app.rooms().audio_level(&rs.room, session, level);
                }
            }
            (PeerOwner::Publisher(session), PeerEvent::Muted(muted)) => {
                if let Some(rs) = self.room_sessions.get(session) {
                    self.app.rooms().set_muted(&rs.room, session, muted);
                }
            }
            (PeerOwner::Feed(_), PeerEvent::AudioLevel(_) | PeerEvent::Muted(_)) => {}
            (PeerOwner::Feed(feed), PeerEvent::Closed(reason)) => {
                let feed = feed.clone();
                warn!(conn = self.id, %feed, %reason, "feed media ended");
                if let Some(f) = self.feeds.remove(&feed) {
                    self.peers.remove(&f.peer);
                    if let Some(rs) = self.room_sessions.get(&f.parent) {
                        let room = rs.room.clone();
                        self.app.rooms().detach(&room, &f.parent, &f.publisher);
                    }
                }
            }
        }
    }
}

/// A room session's `terminated` state.
pub(crate) fn terminated_event() -> VideoroomEvent {
    VideoroomEvent::SessionState(RoomSessionState::Terminated { reason: None })
}
