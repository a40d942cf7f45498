//! The codecs a peer's `rtc` media engine registers, with the payload types browsers see: a
//! room's (Opus, its video codec, RTX, the audio level extension) and a call's (the codecs
//! the SIP side chose, plus what a re-INVITE may add).

use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_TELEPHONE_EVENT,
    MIME_TYPE_VP8, MIME_TYPE_VP9,
};
use rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};

use crate::bridge::sdp::{Chosen, Codec};
use crate::ids::{Kind, VideoCodec};
use crate::MediaError;

pub const OPUS_PT: u8 = 111;
pub const VP8_PT: u8 = 96;

impl From<RtpCodecKind> for Kind {
    fn from(k: RtpCodecKind) -> Self {
        match k {
            RtpCodecKind::Video => Kind::Video,
            _ => Kind::Audio,
        }
    }
}

/// Opus as browsers offer it (the simulated clients of `testkit` too).
pub(crate) fn opus() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: OPUS_PT,
    }
}

pub(super) fn vp8() -> RTCRtpCodecParameters {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![
                fb("goog-remb", ""),
                fb("ccm", "fir"),
                fb("nack", ""),
                fb("nack", "pli"),
            ],
        },
        payload_type: VP8_PT,
    }
}

pub const VP9_PT: u8 = 98;
pub const H264_PT: u8 = 102;

/// The video format of a room's codec as `rtc` registers it (the same RTCP feedback as VP8).
pub(super) fn room_video(codec: VideoCodec) -> RTCRtpCodecParameters {
    let mut params = vp8();
    let (mime, fmtp, pt) = match codec {
        VideoCodec::Vp8 => return params,
        VideoCodec::Vp9 => (MIME_TYPE_VP9, "profile-id=0", VP9_PT),
        VideoCodec::H264 => (
            MIME_TYPE_H264,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            H264_PT,
        ),
    };
    params.rtp_codec.mime_type = mime.to_owned();
    params.rtp_codec.sdp_fmtp_line = fmtp.to_owned();
    params.payload_type = pt;
    params
}

/// RFC 6464: the audio level of each audio packet, in a header extension.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

pub(super) fn room_media(codec: VideoCodec) -> Result<MediaEngine, MediaError> {
    let mut media = MediaEngine::default();
    media
        .register_codec(opus(), RtpCodecKind::Audio)
        .map_err(MediaError::rtc)?;
    media
        .register_codec(room_video(codec), RtpCodecKind::Video)
        .map_err(MediaError::rtc)?;
    media
        .register_codec(rtx(codec), RtpCodecKind::Video)
        .map_err(MediaError::rtc)?;
    // Publishers' audio levels (speaker indication in rooms).
    media
        .register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_owned(),
            },
            RtpCodecKind::Audio,
            None,
        )
        .map_err(MediaError::rtc)?;
    Ok(media)
}

pub const RTX_PT: u8 = 97;

/// RFC 4588 retransmissions of the room's video: NACKed packets are resent on their own SSRC,
/// with the payload type after the codec's (97 for VP8: [`RTX_PT`]).
pub(super) fn rtx(codec: VideoCodec) -> RTCRtpCodecParameters {
    let apt = room_video(codec).payload_type;
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_RTX.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: format!("apt={apt}"),
            rtcp_feedback: vec![],
        },
        payload_type: apt + 1,
    }
}

/// A media engine with these codecs (payload types as the browser will see them), and, for
/// a kind they do not have, every codec of it the bridge passes on: a re-INVITE may add that
/// kind later, and `rtc` negotiates a kind against the codecs registered when the connection
/// was made.
pub(super) fn call_media(codecs: &[(Kind, Codec)]) -> Result<MediaEngine, MediaError> {
    let mut media = MediaEngine::default();
    for (kind, c) in codecs {
        let (kind, codec) = codec_parameters(*kind, c);
        media.register_codec(codec, kind).map_err(MediaError::rtc)?;
    }
    let mut free = (96u8..=127).filter(|pt| !codecs.iter().any(|(_, c)| c.pt == *pt));
    for (kind, name, clock, fmtp) in SPARE_CODECS {
        if codecs.iter().any(|(k, _)| k == kind) {
            continue;
        }
        let Some(pt) = free.next() else { break };
        let codec = Codec {
            pt,
            name: (*name).to_owned(),
            clock: *clock,
            channels: 1,
            fmtp: fmtp.map(str::to_owned),
        };
        let (kind, codec) = codec_parameters(*kind, &codec);
        media.register_codec(codec, kind).map_err(MediaError::rtc)?;
    }
    Ok(media)
}

/// The codecs a call may add by renegotiation (kind, name, clock, fmtp), in preference
/// order; the payload types are picked among those the call leaves free.
const SPARE_CODECS: &[(Kind, &str, u32, Option<&str>)] = &[
    (Kind::Audio, "opus", 48000, None),
    (Kind::Audio, "telephone-event", 48000, None),
    (Kind::Video, "vp8", 90000, None),
    (
        Kind::Video,
        "h264",
        90000,
        Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
    ),
    (
        Kind::Video,
        "h264",
        90000,
        Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
    ),
];

/// One codec of a call as `rtc` registers it.
pub(super) fn codec_parameters(kind: Kind, c: &Codec) -> (RtpCodecKind, RTCRtpCodecParameters) {
    let (rtp_kind, prefix) = match kind {
        Kind::Audio => (RtpCodecKind::Audio, "audio"),
        Kind::Video => (RtpCodecKind::Video, "video"),
    };
    let mime = match c.name.as_str() {
        "telephone-event" => MIME_TYPE_TELEPHONE_EVENT.to_owned(),
        "opus" => "audio/opus".to_owned(),
        other => format!("{prefix}/{}", other.to_uppercase()),
    };
    let fmtp = match (&c.fmtp, c.name.as_str()) {
        // The browser's side of Opus is negotiated on its own: the SIP side's preferences
        // (stereo, maxaveragebitrate, ...) would make rtc's codec match fail against the
        // browser's answer, and nothing would be sent to it.
        (_, "opus") => opus().rtp_codec.sdp_fmtp_line,
        (Some(f), _) => f.clone(),
        (None, "telephone-event") => "0-16".to_owned(),
        (None, _) => String::new(),
    };
    let codec = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime,
            clock_rate: c.clock,
            channels: if c.name == "opus" { 2 } else { 0 },
            sdp_fmtp_line: fmtp,
            rtcp_feedback: if kind == Kind::Video {
                vp8().rtp_codec.rtcp_feedback
            } else {
                vec![]
            },
        },
        payload_type: c.pt,
    };
    (rtp_kind, codec)
}

/// The codecs of a negotiated call as the browser sees them (codec and telephone-event).
pub(super) fn chosen_codecs(chosen: &[Chosen]) -> Vec<(Kind, Codec)> {
    let mut out = Vec::new();
    for c in chosen {
        out.push((
            c.kind,
            Codec {
                pt: c.webrtc_pt,
                ..c.codec.clone()
            },
        ));
        if let Some((_, pt)) = c.dtmf {
            out.push((
                Kind::Audio,
                Codec {
                    pt,
                    name: "telephone-event".into(),
                    clock: if c.codec.name == "opus" { 48000 } else { 8000 },
                    channels: 1,
                    fmtp: None,
                },
            ));
        }
    }
    out
}
