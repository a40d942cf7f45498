//! Phones in rooms (dial-in): an INVITE to `<room>@<conference domain>` (the proxy routes
//! the conference domains to the gateway; `conference_domains`) joins room `room@domain` as
//! an audio participant.
//!
//! * The phone is a publisher of type `sip` (`publishers-joined` to the browsers, its display
//!   name from the From header); browsers attach its feed as any other (audio only) and get
//!   its voice in Opus from the room's mix.
//! * It hears the mix of everyone else in the room, in its own codec (Opus, G.722, PCMU or
//!   PCMA: [`media::mix`]).
//! * Its BYE leaves the room (`publishers-left`); the admin API's participant removal and the
//!   gateway's shutdown hang it up.
//!
//! One task serves every room's phones: it only joins and leaves (a few engine round trips);
//! the media runs on the room's shard.

use std::collections::HashMap;
use std::sync::Arc;

use signaling::sip::{IncomingEvent, IncomingInvite, IncomingUpdate};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::rooms::{mix_id, JoinRefused, Member, Participant};
use crate::server::App;

/// INVITEs and call events waiting for the dial-in task.
pub const QUEUE: usize = 256;

/// A phone in a room.
struct InRoom {
    room: String,
    session: String,
    peer: media::PeerId,
    /// What the phone was answered with (a re-INVITE that keeps the media gets it again).
    answer: String,
}

/// Serves the INVITEs to rooms and the ends of those calls, until the user agent goes.
pub async fn serve(app: Arc<App>, mut rx: mpsc::Receiver<IncomingUpdate>) {
    let mut calls: HashMap<String, InRoom> = HashMap::new();
    while let Some(update) = rx.recv().await {
        match update.event {
            IncomingEvent::Invite(invite) => {
                if let Some(joined) = join(&app, &update.call_id, *invite).await {
                    calls.insert(update.call_id, joined);
                }
            }
            IncomingEvent::Ended { reason, .. } => {
                if let Some(phone) = calls.remove(&update.call_id) {
                    leave(&app, phone, &reason).await;
                }
            }
            IncomingEvent::Reoffer(r) => match calls.get(&update.call_id) {
                // Hold, a new session-timer refresh: the leg and the mix go on as they are.
                Some(phone) => r.answer(phone.answer.clone()),
                None => r.reject(481),
            },
            IncomingEvent::Message(_)
            | IncomingEvent::Reanswered { .. }
            | IncomingEvent::MessageSent { .. } => {}
        }
    }
}

/// The caller's address of record (`user@host`) from its From URI.
fn caller_aor(from_uri: &str) -> String {
    let rest = from_uri
        .strip_prefix("sip:")
        .or_else(|| from_uri.strip_prefix("sips:"))
        .unwrap_or(from_uri);
    rest.split([';', '?', '>'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

async fn join(app: &Arc<App>, call_id: &str, invite: IncomingInvite) -> Option<InRoom> {
    let room = invite.account.clone();
    let caller = caller_aor(&invite.from_uri);
    let Some(sdp) = invite.sdp.clone() else {
        invite.call.reject(488);
        return None;
    };
    if app.draining() {
        invite.call.reject(503);
        return None;
    }
    let settings = app.config.room_settings(&room);
    if settings.is_some_and(|s| !s.allows(&caller)) {
        info!(%room, %caller, %call_id, "phone refused by the room's access policy (403)");
        invite.call.reject(403);
        return None;
    }
    let video = !settings.is_some_and(|s| s.video_disabled);
    let session = crate::videoroom::uuid4();
    let engine = app.engine.clone();
    let reserved = app.rooms().reserve(
        &session,
        &room,
        app.config.limits.max_room_participants,
        || engine.place_room(),
    );
    let shard = match reserved {
        Ok(shard) => shard,
        Err(JoinRefused::Full { max }) => {
            info!(%room, %caller, max, "room full: phone refused (486)");
            invite.call.reject(486);
            return None;
        }
        Err(JoinRefused::InUse) => {
            invite.call.reject(500);
            return None;
        }
    };
    let peer = engine.new_peer_id_on(shard);
    let sdes = app.config.sdes_mode(&room, Some(&caller));
    let answer = match engine.phone_join(peer, mix_id(&room), sdp, sdes).await {
        Ok(answer) => answer,
        Err(e) => {
            warn!(%room, %caller, %call_id, error = %e, "phone refused: its offer is unusable (488)");
            app.rooms().unreserve(&session);
            engine.close(peer).await;
            invite.call.reject(488);
            return None;
        }
    };
    invite.call.answer(answer.clone());
    info!(%room, %caller, %call_id, %session, "phone joined the room");
    let participant = Participant {
        session: session.clone(),
        member: Member::Phone(invite.call),
        account: caller,
        display_name: invite.display_name,
        peer,
        attached: Default::default(),
        muted: false,
        spoke: None,
    };
    app.rooms().join(&room, true, video, participant);
    Some(InRoom {
        room,
        session,
        peer,
        answer,
    })
}

async fn leave(app: &Arc<App>, phone: InRoom, reason: &str) {
    info!(room = %phone.room, session = %phone.session, %reason, "phone left the room");
    app.engine.close(phone.peer).await;
    let left = app.rooms().leave(&phone.room, &phone.session);
    if let Some(room) = left.and_then(|l| l.destroyed) {
        crate::filesharing::room_destroyed(app, room);
    }
}

#[cfg(test)]
mod tests {
    use super::caller_aor;

    #[test]
    fn the_caller_is_its_from_uri_without_scheme_and_parameters() {
        assert_eq!(
            caller_aor("sip:bob@127.0.0.1;transport=udp"),
            "bob@127.0.0.1"
        );
        assert_eq!(
            caller_aor("sips:+3120@pstn.example.com"),
            "+3120@pstn.example.com"
        );
        assert_eq!(caller_aor("tel:+3120"), "tel:+3120");
    }
}
