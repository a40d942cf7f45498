//! One browser's WebRTC transport over webrtc-rs `rtc` (sans-IO): ICE-lite with our own ICE
//! credentials (so the engine can route STUN by ufrag), DTLS server, BUNDLE and rtcp-mux,
//! Opus and VP8. A publisher peer answers the browser's offer; a subscriber peer makes the
//! offer (sendonly audio + video) and takes the browser's answer.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc::interceptor::NackGeneratorBuilder;
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCDtlsRole, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpRtxParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverId,
    RTCRtpTransceiverInit,
};
use rtc::sansio::Protocol;

use rand::Rng;

use super::candidates::add_candidates;
pub use super::candidates::Candidates;
use super::codecs::{
    call_media, chosen_codecs, codec_parameters, opus, room_media, room_video, AUDIO_LEVEL_URI,
};
use crate::bridge::sdp::{Chosen, Codec};
use crate::ids::{Kind, VideoCodec};
use crate::MediaError;

/// Which DTLS-SRTP protection profiles a peer offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// AES-GCM (128, 256) first, then AES-CM with HMAC-SHA1 (80, 32): what browsers expect.
    #[default]
    Default,
    /// Only AES-GCM 128.
    AesGcm,
    /// Only AES-CM 128 with HMAC-SHA1-80.
    AesCm,
    /// Only AES-GCM 256 (tests: every profile rtc negotiates).
    AesGcm256,
    /// Only AES-CM 128 with HMAC-SHA1-32 (tests: every profile rtc negotiates).
    AesCm32,
}

impl SrtpPolicy {
    /// Every single-profile policy: each SRTP profile rtc can negotiate.
    pub const EACH_PROFILE: [SrtpPolicy; 4] = [
        SrtpPolicy::AesGcm,
        SrtpPolicy::AesGcm256,
        SrtpPolicy::AesCm,
        SrtpPolicy::AesCm32,
    ];
}

/// Marks inbound RTCP for the application (keyframe requests must reach the router); the
/// default interceptors still act on it (NACK, reports).
#[derive(Default)]
pub struct DeliverRtcp {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// ICE credentials of one peer; the ufrag is how STUN finds it on the shared socket.
#[derive(Debug, Clone)]
pub struct IceCredentials {
    pub ufrag: String,
    pub pwd: String,
}

impl IceCredentials {
    pub fn random(rng: &mut impl Rng) -> Self {
        IceCredentials {
            ufrag: random_token(rng, 16),
            pwd: random_token(rng, 32),
        }
    }
}

pub fn random_token(rng: &mut impl Rng, n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A sender the gateway writes forwarded media to (subscriber side).
#[derive(Debug, Clone, Copy)]
pub struct OutTrack {
    pub sender: RTCRtpSenderId,
    pub ssrc: u32,
    pub payload_type: u8,
    /// The RFC 4588 retransmission SSRC (room video).
    pub rtx_ssrc: Option<u32>,
    /// The RTP clock of what is sent (sender reports).
    pub clock_rate: u32,
}

/// A track received from the browser (publisher side).
#[derive(Debug, Clone)]
pub struct InTrack {
    pub receiver: RTCRtpReceiverId,
    pub kind: Kind,
    pub ssrc: u32,
    pub rid: Option<String>,
}

pub struct Peer {
    pub pc: RTCPeerConnection,
    pub ice: IceCredentials,
    /// Publisher: tracks by track id.
    pub in_tracks: HashMap<String, InTrack>,
    /// The video codec of the room (publishers and subscribers; VP8 for calls).
    pub video_codec: VideoCodec,
    /// Subscriber: one sender per kind.
    pub out_audio: Option<OutTrack>,
    pub out_video: Option<OutTrack>,
    /// Remote candidates added so far ([`MAX_REMOTE_CANDIDATES`]).
    remote_candidates: usize,
    /// Publisher: the id of the RFC 6464 audio level header extension, when negotiated.
    pub audio_level_ext: Option<u8>,
}

/// The id an SDP gives the header extension `uri` (`a=extmap:<id>[/<direction>] <uri>`).
pub fn extmap_id(sdp: &str, uri: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=extmap:")?;
        let (id, rest) = rest.split_once(' ')?;
        let named = rest.split_whitespace().next()? == uri;
        let id = id.split('/').next()?.parse::<u8>().ok()?;
        (named && (1..=14).contains(&id)).then_some(id)
    })
}

/// Trickled remote candidates kept per peer.
pub const MAX_REMOTE_CANDIDATES: usize = 64;

/// The DTLS certificate of every peer: one for the process, as Janus has (a browser pins the
/// fingerprint per connection, not per server). Generating a key pair per peer was most of a
/// peer's setup time. Made again when it is a day from expiring.
fn certificate() -> Result<RTCCertificate, MediaError> {
    static CERTIFICATE: Mutex<Option<RTCCertificate>> = Mutex::new(None);
    // Only a finished certificate is ever stored: a poisoned lock holds a usable value.
    let mut held = CERTIFICATE.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = held.as_ref().filter(|c| {
        c.expires
            .duration_since(std::time::SystemTime::now())
            .is_ok_and(|left| left > std::time::Duration::from_secs(86_400))
    });
    if let Some(c) = fresh {
        return Ok(c.clone());
    }
    let provider = rtc::crypto::default_provider().map_err(MediaError::rtc)?;
    let params =
        CertificateParams::new(vec!["sylk-gateway".to_owned()]).map_err(MediaError::rtc)?;
    let made = RTCCertificate::generate(
        provider.crypto(),
        rtc::crypto::SignatureScheme::EcdsaP256Sha256,
        params,
    )
    .map_err(MediaError::rtc)?;
    *held = Some(made.clone());
    Ok(made)
}

fn build_pc(
    ice: &IceCredentials,
    srtp: SrtpPolicy,
    mut media: MediaEngine,
    now: Instant,
) -> Result<RTCPeerConnection, MediaError> {
    // Application-ward of the default chain, so NACK and reports have acted first.
    let registry = Registry::new().with(Slot::from(14_000), DeliverRtcp::default());
    // rtc's default chain (`register_default_interceptors`) less its NACK responder: media
    // to the browser goes out on the gateway's own send path, which answers NACKs from its
    // own history (transport::send), so the responder's buffer (1,024 packets per video
    // stream, about 120 KB) would stay empty, and was half of a subscriber's memory. The
    // generator stays: it NACKs what a publisher's browser lost.
    let registry = registry.with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(&mut media).map_err(MediaError::rtc)?;
    let registry = configure_twcc_receiver_only(registry, &mut media).map_err(MediaError::rtc)?;
    let registry = configure_rtcp_reports(registry);
    let mut settings = SettingEngineBuilder::new()
        .with_lite(true)
        .with_ice_credentials(ice.ufrag.clone(), ice.pwd.clone())
        .with_answering_dtls_role(RTCDtlsRole::Server);
    match srtp {
        SrtpPolicy::Default => {}
        SrtpPolicy::AesGcm => {
            settings = settings
                .with_srtp_protection_profiles(vec![SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm])
        }
        SrtpPolicy::AesCm => {
            settings = settings.with_srtp_protection_profiles(vec![
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
            ])
        }
        SrtpPolicy::AesGcm256 => {
            settings = settings
                .with_srtp_protection_profiles(vec![SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm])
        }
        SrtpPolicy::AesCm32 => {
            settings = settings.with_srtp_protection_profiles(vec![
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
            ])
        }
    }
    let settings = settings.build();
    let config = RTCConfigurationBuilder::new()
        .with_ice_servers(vec![])
        .with_certificates(vec![certificate()?])
        .build();
    RTCPeerConnectionBuilder::new()
        .with_configuration(config)
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(MediaError::rtc)
}

/// Creates and applies our answer; returns its SDP.
fn local_answer(pc: &mut RTCPeerConnection, now: Instant) -> Result<String, MediaError> {
    let answer = pc.create_answer(None).map_err(MediaError::rtc)?;
    pc.set_local_description(now, answer)
        .map_err(MediaError::rtc)?;
    local_sdp(pc)
}

/// Creates and applies our offer; returns its SDP.
fn local_offer(pc: &mut RTCPeerConnection, now: Instant) -> Result<String, MediaError> {
    let offer = pc.create_offer(None).map_err(MediaError::rtc)?;
    pc.set_local_description(now, offer)
        .map_err(MediaError::rtc)?;
    local_sdp(pc)
}

fn local_sdp(pc: &RTCPeerConnection) -> Result<String, MediaError> {
    pc.local_description()
        .map(|d| d.sdp)
        .ok_or_else(|| MediaError::Rtc("no local description".into()))
}

/// Sets the transceivers of the offer's video sections inactive, so that the answer declines
/// them (found by their `a=mid` in `offer`).
fn decline_video(pc: &mut RTCPeerConnection, offer: &str) {
    let mut video_mids = Vec::new();
    let mut in_video = false;
    for line in offer.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            in_video = m.starts_with("video ");
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            if in_video {
                video_mids.push(mid.to_string());
            }
        }
    }
    let ids: Vec<_> = pc.get_transceivers().collect();
    for id in ids {
        if let Some(mut t) = pc.rtp_transceiver(id) {
            if t.mid().as_ref().is_some_and(|m| video_mids.contains(m)) {
                t.set_direction(RTCRtpTransceiverDirection::Inactive);
            }
        }
    }
}

/// Adds a transceiver of `kind` that sends with `encoding`; returns its sender.
fn add_sender(
    pc: &mut RTCPeerConnection,
    kind: RtpCodecKind,
    direction: RTCRtpTransceiverDirection,
    encoding: RTCRtpEncodingParameters,
) -> Result<RTCRtpSenderId, MediaError> {
    add_transceiver(pc, kind, direction, encoding).map(|(_, sender)| sender)
}

/// [`add_sender`], also returning the transceiver (its codec preferences can then be set).
fn add_transceiver(
    pc: &mut RTCPeerConnection,
    kind: RtpCodecKind,
    direction: RTCRtpTransceiverDirection,
    encoding: RTCRtpEncodingParameters,
) -> Result<(RTCRtpTransceiverId, RTCRtpSenderId), MediaError> {
    let init = RTCRtpTransceiverInit {
        direction,
        streams: vec![],
        send_encodings: vec![encoding],
    };
    let tid = pc
        .add_transceiver_from_kind(kind, Some(init))
        .map_err(MediaError::rtc)?;
    let sender = pc
        .rtp_transceiver(tid)
        .and_then(|t| t.sender())
        .ok_or_else(|| MediaError::Rtc("transceiver without a sender".into()))?;
    Ok((tid, sender))
}

/// One encoding on a given SSRC.
fn ssrc_encoding(ssrc: u32) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            ssrc: Some(ssrc),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Adds the track a call sends `codec` of `kind` on, with SSRC `ssrc` (to the transceiver of
/// the browser's offer for that kind, when there is one); returns its sender.
fn add_call_track(
    pc: &mut RTCPeerConnection,
    kind: Kind,
    codec: &Codec,
    ssrc: u32,
) -> Result<RTCRtpSenderId, MediaError> {
    let track = MediaStreamTrack::new(
        format!("sylk-{ssrc}"),
        format!("sylk-{}-{ssrc}", codec.name),
        format!("sylk-{ssrc}"),
        codec_parameters(kind, codec).0,
        vec![ssrc_encoding(ssrc)],
    );
    pc.add_track(track).map_err(MediaError::rtc)
}

impl Peer {
    /// Answers a browser's publish offer. Returns the peer and the SDP answer.
    pub fn publisher(
        offer: &str,
        candidates: &Candidates,
        srtp: SrtpPolicy,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Result<(Peer, String), MediaError> {
        Peer::publisher_with(offer, candidates, srtp, now, rng, true, VideoCodec::Vp8)
    }

    /// [`Peer::publisher`]; without `video`, the offer's video is declined (`a=inactive`):
    /// the browser sends none (an audio-only room).
    pub fn publisher_with(
        offer: &str,
        candidates: &Candidates,
        srtp: SrtpPolicy,
        now: Instant,
        rng: &mut impl Rng,
        video: bool,
        codec: VideoCodec,
    ) -> Result<(Peer, String), MediaError> {
        let ice = IceCredentials::random(rng);
        let mut pc = build_pc(&ice, srtp, room_media(codec)?, now)?;
        let description = RTCSessionDescription::offer(offer.to_owned())
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        pc.set_remote_description(now, description)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        if !video {
            decline_video(&mut pc, offer);
        }
        add_candidates(&mut pc, candidates)?;
        let sdp = local_answer(&mut pc, now)?;
        let mut peer = Peer::new(pc, ice);
        peer.audio_level_ext = extmap_id(&sdp, AUDIO_LEVEL_URI);
        peer.video_codec = codec;
        Ok((peer, sdp))
    }

    /// Offers sendonly audio and video to a browser (a subscription). Returns the SDP offer.
    pub fn subscriber(
        candidates: &Candidates,
        audio: bool,
        video: bool,
        srtp: SrtpPolicy,
        now: Instant,
        rng: &mut impl Rng,
        codec: VideoCodec,
    ) -> Result<(Peer, String), MediaError> {
        let ice = IceCredentials::random(rng);
        let mut pc = build_pc(&ice, srtp, room_media(codec)?, now)?;
        let mut kinds = Vec::new();
        if audio {
            kinds.push((RtpCodecKind::Audio, opus()));
        }
        if video {
            kinds.push((RtpCodecKind::Video, room_video(codec)));
        }
        let mut out = Vec::new();
        for (kind, codec) in kinds {
            let ssrc = rng.random::<u32>();
            let rtx_ssrc = (kind == RtpCodecKind::Video).then(|| rng.random::<u32>());
            let encoding = RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    rtx: rtx_ssrc.map(|ssrc| RTCRtpRtxParameters { ssrc }),
                    ..Default::default()
                },
                codec: codec.rtp_codec.clone(),
                ..Default::default()
            };
            let sender = add_sender(
                &mut pc,
                kind,
                RTCRtpTransceiverDirection::Sendonly,
                encoding,
            )?;
            out.push((
                Kind::from(kind),
                OutTrack {
                    sender,
                    ssrc,
                    payload_type: codec.payload_type,
                    rtx_ssrc,
                    clock_rate: codec.rtp_codec.clock_rate,
                },
            ));
        }
        add_candidates(&mut pc, candidates)?;
        let sdp = local_offer(&mut pc, now)?;
        let mut peer = Peer::with_tracks(pc, ice, out);
        peer.video_codec = codec;
        Ok((peer, sdp))
    }

    /// Answers a browser's call offer with exactly the codecs the SIP side took (`chosen`):
    /// the browser's transport of a bridged call. Returns the peer and the SDP answer.
    pub fn bridged(
        offer: &str,
        chosen: &[Chosen],
        candidates: &Candidates,
        srtp: SrtpPolicy,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Result<(Peer, String), MediaError> {
        let ice = IceCredentials::random(rng);
        let mut pc = build_pc(&ice, srtp, call_media(&chosen_codecs(chosen))?, now)?;
        let offer_sdp = offer;
        let offer = RTCSessionDescription::offer(offer.to_owned())
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        pc.set_remote_description(now, offer)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let mut out = Vec::new();
        for c in chosen {
            let ssrc = rng.random::<u32>();
            let sender = add_call_track(&mut pc, c.kind, &c.codec, ssrc)?;
            out.push((
                c.kind,
                OutTrack {
                    sender,
                    ssrc,
                    payload_type: c.webrtc_pt,
                    rtx_ssrc: None,
                    clock_rate: c.codec.clock,
                },
            ));
        }
        // The media engine also knows the codecs a later re-INVITE may add: video the SIP
        // side did not take now is declined, not answered with one of those.
        if !chosen.iter().any(|c| c.kind == Kind::Video) {
            decline_video(&mut pc, offer_sdp);
        }
        add_candidates(&mut pc, candidates)?;
        let sdp = local_answer(&mut pc, now)?;
        Ok((Peer::with_tracks(pc, ice, out), sdp))
    }

    /// Offers a call to a browser with the given codecs (an incoming SIP call): sendrecv
    /// audio and/or video. Returns the peer, the SDP offer, and the senders per kind (their
    /// payload types are fixed once the browser's answer says which codec it took).
    pub fn offering(
        codecs: &[(Kind, Codec)],
        candidates: &Candidates,
        srtp: SrtpPolicy,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Result<(Peer, String), MediaError> {
        let ice = IceCredentials::random(rng);
        let mut pc = build_pc(&ice, srtp, call_media(codecs)?, now)?;
        let mut out = Vec::new();
        for kind in [Kind::Audio, Kind::Video] {
            if !codecs
                .iter()
                .any(|(k, c)| *k == kind && c.name != "telephone-event")
            {
                continue;
            }
            let rtp_kind = match kind {
                Kind::Audio => RtpCodecKind::Audio,
                Kind::Video => RtpCodecKind::Video,
            };
            let ssrc = rng.random::<u32>();
            let encoding = ssrc_encoding(ssrc);
            let sender = add_sender(
                &mut pc,
                rtp_kind,
                RTCRtpTransceiverDirection::Sendrecv,
                encoding,
            )?;
            out.push((
                kind,
                OutTrack {
                    sender,
                    ssrc,
                    payload_type: 0,
                    rtx_ssrc: None,
                    clock_rate: 0,
                },
            ));
        }
        add_candidates(&mut pc, candidates)?;
        let sdp = local_offer(&mut pc, now)?;
        Ok((Peer::with_tracks(pc, ice, out), sdp))
    }

    /// Fixes the payload type (and its clock) the gateway sends to the browser with, per kind.
    pub fn set_send_payload_type(&mut self, kind: Kind, pt: u8, clock_rate: u32) {
        let track = match kind {
            Kind::Audio => self.out_audio.as_mut(),
            Kind::Video => self.out_video.as_mut(),
        };
        if let Some(t) = track {
            t.payload_type = pt;
            t.clock_rate = clock_rate;
        }
    }

    /// A peer with the senders the gateway writes to, per kind.
    fn with_tracks(pc: RTCPeerConnection, ice: IceCredentials, out: Vec<(Kind, OutTrack)>) -> Peer {
        let mut peer = Peer::new(pc, ice);
        for (kind, track) in out {
            match kind {
                Kind::Audio => peer.out_audio = Some(track),
                Kind::Video => peer.out_video = Some(track),
            }
        }
        peer
    }

    fn new(pc: RTCPeerConnection, ice: IceCredentials) -> Peer {
        Peer {
            pc,
            ice,
            in_tracks: HashMap::new(),
            video_codec: VideoCodec::Vp8,
            out_audio: None,
            out_video: None,
            remote_candidates: 0,
            audio_level_ext: None,
        }
    }

    /// A new offer from the browser on an established transport: returns the answer.
    pub fn renegotiate(&mut self, offer: &str, now: Instant) -> Result<String, MediaError> {
        let offer = RTCSessionDescription::offer(offer.to_owned())
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.pc
            .set_remote_description(now, offer)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        local_answer(&mut self.pc, now)
    }

    /// Applies the browser's answer to our subscription offer.
    pub fn set_answer(&mut self, sdp: &str, now: Instant) -> Result<(), MediaError> {
        let answer = RTCSessionDescription::answer(sdp.to_owned())
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.pc
            .set_remote_description(now, answer)
            .map_err(|e| MediaError::BadSdp(e.to_string()))
    }

    /// A trickled remote candidate (`None`: end of candidates). ICE-lite answers the browser's
    /// checks wherever they come from, so a bad candidate is not fatal.
    pub fn add_remote_candidate(
        &mut self,
        candidate: &str,
        mid: Option<String>,
        index: Option<u16>,
    ) {
        // A browser trickles a handful; the client chooses how many, so they are bounded
        // (rtc keeps each, and checks pairs against all of them).
        if self.remote_candidates >= MAX_REMOTE_CANDIDATES {
            tracing::debug!("remote candidate ignored: too many for this peer");
            return;
        }
        self.remote_candidates += 1;
        let init = RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            sdp_mid: mid,
            sdp_mline_index: index,
            ..Default::default()
        };
        if let Err(e) = self.pc.add_remote_candidate(init) {
            tracing::debug!(error = %e, "remote candidate ignored");
        }
    }

    /// Offers media of new kinds on the established transport (a re-INVITE of the SIP side
    /// added them), with the SIP offer's codecs of those kinds where `rtc` has them; returns
    /// the offer. The payload types are fixed when the browser answers
    /// ([`Peer::set_send_payload_type`]).
    pub fn offer_added(
        &mut self,
        codecs: &[(Kind, Codec)],
        now: Instant,
        rng: &mut impl Rng,
    ) -> Result<String, MediaError> {
        for kind in [Kind::Audio, Kind::Video] {
            let of_kind: Vec<&Codec> = codecs
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, c)| c)
                .collect();
            if self.out_track(kind).is_some()
                || !of_kind.iter().any(|c| c.name != "telephone-event")
            {
                continue;
            }
            let ssrc = rng.random::<u32>();
            let rtp_kind = codec_parameters(kind, of_kind[0]).0;
            let (tid, sender) = add_transceiver(
                &mut self.pc,
                rtp_kind,
                RTCRtpTransceiverDirection::Sendrecv,
                ssrc_encoding(ssrc),
            )?;
            let mut transceiver = self
                .pc
                .rtp_transceiver(tid)
                .ok_or_else(|| MediaError::Rtc("transceiver gone".into()))?;
            // Only the formats the SIP side offered, where rtc registered them.
            let preferred: Vec<_> = of_kind
                .iter()
                .map(|c| codec_parameters(kind, c).1)
                .collect();
            if transceiver.set_codec_preferences(preferred).is_err() {
                tracing::debug!(?kind, "SIP codecs not all known to rtc: offering its own");
            }
            let track = OutTrack {
                sender,
                ssrc,
                payload_type: 0,
                rtx_ssrc: None,
                clock_rate: 0,
            };
            match kind {
                Kind::Audio => self.out_audio = Some(track),
                Kind::Video => self.out_video = Some(track),
            }
        }
        local_offer(&mut self.pc, now)
    }

    /// Answers a browser's new offer that adds media: `added` holds the codec the SIP side
    /// took per new kind (browser payload types); a new kind not in it is declined.
    pub fn renegotiate_adding(
        &mut self,
        offer: &str,
        added: &[Chosen],
        now: Instant,
        rng: &mut impl Rng,
    ) -> Result<String, MediaError> {
        let desc = RTCSessionDescription::offer(offer.to_owned())
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.pc
            .set_remote_description(now, desc)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        for c in added {
            if self.out_track(c.kind).is_some() {
                continue;
            }
            let ssrc = rng.random::<u32>();
            let sender = add_call_track(&mut self.pc, c.kind, &c.codec, ssrc)?;
            let preferred: Vec<_> = chosen_codecs(std::slice::from_ref(c))
                .iter()
                .map(|(k, codec)| codec_parameters(*k, codec).1)
                .collect();
            let ids: Vec<_> = self.pc.get_transceivers().collect();
            for id in ids {
                if let Some(mut t) = self.pc.rtp_transceiver(id) {
                    if t.sender() == Some(sender)
                        && t.set_codec_preferences(preferred.clone()).is_err()
                    {
                        tracing::debug!(kind = ?c.kind, "the SIP side's codec is not known to rtc");
                    }
                }
            }
            let track = OutTrack {
                sender,
                ssrc,
                payload_type: c.webrtc_pt,
                rtx_ssrc: None,
                clock_rate: c.codec.clock,
            };
            match c.kind {
                Kind::Audio => self.out_audio = Some(track),
                Kind::Video => self.out_video = Some(track),
            }
        }
        if self.out_video.is_none() {
            decline_video(&mut self.pc, offer);
        }
        local_answer(&mut self.pc, now)
    }

    pub fn out_track(&self, kind: Kind) -> Option<OutTrack> {
        match kind {
            Kind::Audio => self.out_audio,
            Kind::Video => self.out_video,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publisher_answer_negotiates_the_audio_level_extension() {
        assert_eq!(
            extmap_id(
                "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n",
                AUDIO_LEVEL_URI
            ),
            Some(1)
        );
        assert_eq!(
            extmap_id(
                "a=extmap:3/recvonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on",
                AUDIO_LEVEL_URI
            ),
            Some(3)
        );
        assert_eq!(extmap_id("a=extmap:1 urn:x", AUDIO_LEVEL_URI), None);
        assert_eq!(
            extmap_id(
                "a=extmap:99 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                AUDIO_LEVEL_URI
            ),
            None
        );
        // A browser's offer with the extension: the answer keeps its id.
        let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n\
            a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
            a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
            a=setup:actpass\r\na=rtcp-mux\r\n\
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
            a=rtpmap:111 opus/48000/2\r\na=ssrc:1111 cname:x\r\n";
        let c = Candidates::udp(vec!["127.0.0.1:4000".parse().unwrap()]);
        let (peer, answer) = Peer::publisher(
            offer,
            &c,
            SrtpPolicy::Default,
            Instant::now(),
            &mut rand::rng(),
        )
        .unwrap();
        assert_eq!(peer.audio_level_ext, Some(1), "{answer}");
    }

    /// The answer offers a passive TCP candidate beside the UDP one (RFC 6544), ranked below.
    #[test]
    fn feeds_offer_the_rooms_codec_with_its_retransmissions() {
        let c = Candidates::udp(vec!["127.0.0.1:4000".parse().unwrap()]);
        for (codec, rtpmap, fmtp) in [
            (VideoCodec::Vp8, "a=rtpmap:96 VP8/90000", "a=fmtp:97 apt=96"),
            (VideoCodec::Vp9, "a=rtpmap:98 VP9/90000", "a=fmtp:99 apt=98"),
            (
                VideoCodec::H264,
                "a=rtpmap:102 H264/90000",
                "a=fmtp:103 apt=102",
            ),
        ] {
            let (peer, offer) = Peer::subscriber(
                &c,
                true,
                true,
                SrtpPolicy::Default,
                Instant::now(),
                &mut rand::rng(),
                codec,
            )
            .unwrap();
            assert_eq!(peer.video_codec, codec);
            assert!(offer.contains(rtpmap) && offer.contains(fmtp), "{offer}");
            // Only the room's codec is offered.
            let video_codecs = offer
                .lines()
                .filter(|l| l.starts_with("a=rtpmap:") && l.ends_with("/90000"))
                .count();
            assert_eq!(video_codecs, 2, "{offer}");
        }
        let (_, offer) = Peer::subscriber(
            &c,
            false,
            true,
            SrtpPolicy::Default,
            Instant::now(),
            &mut rand::rng(),
            VideoCodec::H264,
        )
        .unwrap();
        assert!(offer.contains("profile-level-id=42e01f"), "{offer}");
    }

    #[test]
    fn answers_carry_passive_tcp_candidates() {
        let (client, offer) = {
            let mut rng = rand::rng();
            let c = Candidates::udp(vec!["127.0.0.1:4000".parse().unwrap()]);
            Peer::subscriber(
                &c,
                true,
                true,
                SrtpPolicy::Default,
                Instant::now(),
                &mut rng,
                VideoCodec::Vp8,
            )
            .unwrap()
        };
        drop(client);
        assert!(!offer.contains(" tcp "), "{offer}");
        let c = Candidates {
            udp: vec!["127.0.0.1:4000".parse().unwrap()],
            tcp: vec!["127.0.0.1:4001".parse().unwrap()],
        };
        let (_, offer) = Peer::subscriber(
            &c,
            true,
            true,
            SrtpPolicy::Default,
            Instant::now(),
            &mut rand::rng(),
            VideoCodec::Vp8,
        )
        .unwrap();
        let priority = |proto: &str| -> u64 {
            offer
                .lines()
                .find(|l| l.starts_with("a=candidate:") && l.contains(&format!(" {proto} ")))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no {proto} candidate in {offer}"))
        };
        let tcp_line = offer.lines().find(|l| l.contains(" tcp ")).unwrap();
        assert!(
            tcp_line.contains("127.0.0.1 4001 typ host tcptype passive"),
            "{tcp_line}"
        );
        assert!(priority("udp") > priority("tcp"));
    }
}
