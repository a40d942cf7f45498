//! SRTP protection of forwarded media, in place and without allocation (RFC 3711, RFC 7714).
//!
//! webrtc-rs `rtc` protects what goes through `RTCRtpSender::write_rtp` in a freshly allocated
//! buffer per packet (and marshals, tags and queues it on the way: about five allocations).
//! The SFU's forwarding path instead writes the RTP header and payload into one reused buffer,
//! protects it here with the session's own keys (exported by the DTLS handshake, see
//! `rtc::peer_connection::LocalSrtpKeys`), and hands the datagram to the socket. RTCP, DTLS and
//! everything else still go through `rtc`, whose SRTCP context is separate from this one.
//!
//! Profiles: AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES128_CM_HMAC_SHA1_80 and
//! AES128_CM_HMAC_SHA1_32, every one `rtc` negotiates. [`SrtpOut::new`] returns `None` for any
//! other, and the caller keeps to `rtc`'s own send path.

use std::time::Instant;

use rtc::crypto::{
    AeadAlgorithm, AeadCipher, BlockCipherAlgorithm, HmacAlgorithm, Mac, RTCCrypto, StreamCipher,
    StreamCipherAlgorithm,
};
use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc::peer_connection::LocalSrtpKeys;

/// Length of the RTP header [`crate::rtp::write_rtp`] writes (no CSRC, no extension).
pub const HEADER_LEN: usize = 12;
const LABEL_SRTP_ENCRYPTION: u8 = 0x00;
const LABEL_SRTP_AUTHENTICATION: u8 = 0x01;
const LABEL_SRTP_SALT: u8 = 0x02;

enum Cipher {
    Gcm {
        aead: Box<dyn AeadCipher>,
        salt: [u8; 12],
    },
    Cm {
        ctr: Box<dyn StreamCipher>,
        mac: Box<dyn Mac>,
        salt: [u8; 14],
        tag_len: usize,
    },
}

/// The sending side of one SRTP session (all the SSRCs a peer sends on).
pub struct SrtpOut {
    cipher: Cipher,
}

/// Why a packet could not be protected (a provider failure: never expected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SRTP protection failed: {0}")]
pub struct ProtectError(String);

/// RFC 3711 4.3.1 key derivation in AES counter mode (key derivation rate 0), with AES-256
/// for 32-byte master keys (RFC 6188 7.2).
fn derive(
    crypto: &dyn RTCCrypto,
    label: u8,
    master_key: &[u8],
    master_salt: &[u8],
    out: &mut [u8],
) -> Result<(), ProtectError> {
    let algorithm = match master_key.len() {
        16 => BlockCipherAlgorithm::Aes128,
        32 => BlockCipherAlgorithm::Aes256,
        n => return Err(ProtectError(format!("master key of {n} bytes"))),
    };
    let mut prf_in = [0u8; 16];
    prf_in[..master_salt.len()].copy_from_slice(master_salt);
    prf_in[7] ^= label;
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        let mut block = prf_in;
        block[14..].copy_from_slice(&(i as u16).to_be_bytes());
        crypto
            .block_encrypt(algorithm, master_key, &mut block)
            .map_err(|e| ProtectError(e.to_string()))?;
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    Ok(())
}

impl SrtpOut {
    /// The sending context of a session; `None` when its profile is not one of this module's
    /// or the keys do not fit it.
    pub fn new(keys: &LocalSrtpKeys) -> Option<SrtpOut> {
        let provider = rtc::crypto::default_provider().ok()?;
        let crypto = provider.crypto();
        let (key, salt) = (&keys.master_key[..], &keys.master_salt[..]);
        let cipher = match keys.profile {
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm
            | SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm => {
                let (key_len, algorithm) =
                    if keys.profile == SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm {
                        (16, AeadAlgorithm::Aes128Gcm)
                    } else {
                        (32, AeadAlgorithm::Aes256Gcm)
                    };
                if key.len() != key_len || salt.len() != 12 {
                    return None;
                }
                let mut session_key = [0u8; 32];
                let session_key = &mut session_key[..key_len];
                let mut session_salt = [0u8; 12];
                derive(crypto, LABEL_SRTP_ENCRYPTION, key, salt, session_key).ok()?;
                derive(crypto, LABEL_SRTP_SALT, key, salt, &mut session_salt).ok()?;
                let aead = crypto.new_aead(algorithm, session_key).ok()?;
                Cipher::Gcm {
                    aead,
                    salt: session_salt,
                }
            }
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80
            | SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32 => {
                if key.len() != 16 || salt.len() != 14 {
                    return None;
                }
                let mut session_key = [0u8; 16];
                let mut session_salt = [0u8; 14];
                let mut auth_key = [0u8; 20];
                derive(crypto, LABEL_SRTP_ENCRYPTION, key, salt, &mut session_key).ok()?;
                derive(crypto, LABEL_SRTP_SALT, key, salt, &mut session_salt).ok()?;
                derive(crypto, LABEL_SRTP_AUTHENTICATION, key, salt, &mut auth_key).ok()?;
                let ctr = crypto
                    .new_stream_cipher(StreamCipherAlgorithm::Aes128Ctr, &session_key)
                    .ok()?;
                let mac = crypto.new_hmac(HmacAlgorithm::Sha1, &auth_key).ok()?;
                let tag_len = if keys.profile == SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80
                {
                    10
                } else {
                    4
                };
                Cipher::Cm {
                    ctr,
                    mac,
                    salt: session_salt,
                    tag_len,
                }
            }
            _ => return None,
        };
        Some(SrtpOut { cipher })
    }

    /// Bytes the protection adds after the payload.
    pub fn overhead(&self) -> usize {
        match &self.cipher {
            Cipher::Gcm { .. } => 16,
            Cipher::Cm { tag_len, .. } => *tag_len,
        }
    }

    /// Protects the RTP packet in `buf` (a [`HEADER_LEN`]-byte header, then the payload) in
    /// place, appending the tag; `roc` is the SSRC's rollover counter for this packet. Needs
    /// [`SrtpOut::overhead`] bytes of spare capacity in `buf` to stay allocation-free.
    pub fn protect(&mut self, buf: &mut Vec<u8>, roc: u32) -> Result<(), ProtectError> {
        if buf.len() < HEADER_LEN {
            return Err(ProtectError("packet shorter than its header".into()));
        }
        let ssrc = [buf[8], buf[9], buf[10], buf[11]];
        let seq = [buf[2], buf[3]];
        match &mut self.cipher {
            Cipher::Gcm { aead, salt } => {
                // RFC 7714 8.1: 00 00 || SSRC || ROC || SEQ, XOR the session salt.
                let mut iv = [0u8; 12];
                iv[2..6].copy_from_slice(&ssrc);
                iv[6..10].copy_from_slice(&roc.to_be_bytes());
                iv[10..12].copy_from_slice(&seq);
                for (v, s) in iv.iter_mut().zip(salt.iter()) {
                    *v ^= s;
                }
                let mut tag = [0u8; 16];
                let (aad, payload) = buf.split_at_mut(HEADER_LEN);
                aead.seal_in_place(&iv, aad, payload, &mut tag)
                    .map_err(|e| ProtectError(e.to_string()))?;
                buf.extend_from_slice(&tag);
            }
            Cipher::Cm {
                ctr,
                mac,
                salt,
                tag_len,
            } => {
                // RFC 3711 4.1.1: (salt << 16) XOR (SSRC << 64) XOR (index << 16).
                let mut iv = [0u8; 16];
                iv[4..8].copy_from_slice(&ssrc);
                iv[8..12].copy_from_slice(&roc.to_be_bytes());
                iv[12..14].copy_from_slice(&seq);
                for (v, s) in iv.iter_mut().zip(salt.iter()) {
                    *v ^= s;
                }
                ctr.apply_keystream(&iv, &mut buf[HEADER_LEN..])
                    .map_err(|e| ProtectError(e.to_string()))?;
                let mut tag = [0u8; 20];
                mac.sign(&[&buf[..], &roc.to_be_bytes()], &mut tag)
                    .map_err(|e| ProtectError(e.to_string()))?;
                buf.extend_from_slice(&tag[..*tag_len]);
            }
        }
        Ok(())
    }
}

/// The sending state of one SSRC: rollover counter, and what RTCP sender reports say.
#[derive(Debug, Clone, Default)]
pub struct OutStream {
    roc: u32,
    highest: Option<u16>,
    pub packets: u32,
    pub octets: u32,
    /// The RTP timestamp of the latest frame sent and when it was sent.
    pub last_ts: Option<(u32, Instant)>,
    /// The next sequence number of a stream this side numbers itself (RTX).
    pub next_seq: u16,
}

impl OutStream {
    /// A stream this side numbers itself, from `first`.
    pub fn numbered_from(first: u16) -> OutStream {
        OutStream {
            next_seq: first,
            ..Default::default()
        }
    }

    /// The rollover counter for sequence number `seq` (RFC 3711 3.3.1, sender side): it moves
    /// on when the sequence wraps, and a late packet from before the wrap keeps the old one.
    pub fn roc_for(&mut self, seq: u16) -> u32 {
        let Some(highest) = self.highest else {
            self.highest = Some(seq);
            return self.roc;
        };
        let ahead = seq.wrapping_sub(highest);
        if ahead == 0 {
            self.roc
        } else if ahead < 0x8000 {
            if seq < highest {
                self.roc = self.roc.wrapping_add(1);
            }
            self.highest = Some(seq);
            self.roc
        } else if seq > highest {
            // Behind the highest, across a wrap: the previous cycle.
            self.roc.wrapping_sub(1)
        } else {
            self.roc
        }
    }

    /// Counts a sent packet for the sender reports.
    pub fn sent(&mut self, ts: u32, payload_len: usize, now: Instant) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        if self.last_ts.is_none_or(|(t, _)| t != ts) {
            self.last_ts = Some((ts, now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::write_rtp;
    use rtc::srtp::context::Context;
    use rtc::srtp::protection_profile::ProtectionProfile;

    fn keys(profile: SrtpProtectionProfile, salt_len: usize) -> LocalSrtpKeys {
        let key_len = if profile == SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm {
            32
        } else {
            16
        };
        LocalSrtpKeys {
            profile,
            master_key: (0..key_len).map(|i| i * 7 + 1).collect(),
            master_salt: (0..salt_len as u8).map(|i| i * 13 + 5).collect(),
        }
    }

    /// What `rtc` would decrypt with: a receiving context with the same master keys.
    fn receiver(k: &LocalSrtpKeys, profile: ProtectionProfile) -> Context {
        let provider = rtc::crypto::default_provider().expect("provider");
        Context::new(
            &k.master_key,
            &k.master_salt,
            profile,
            None,
            None,
            provider.crypto(),
        )
        .expect("context")
    }

    fn round_trip(profile: SrtpProtectionProfile, rtc_profile: ProtectionProfile, salt: usize) {
        let k = keys(profile, salt);
        let mut out = SrtpOut::new(&k).expect("supported profile");
        let mut rx = receiver(&k, rtc_profile);
        let mut stream = OutStream::default();
        let mut buf = Vec::with_capacity(1500);
        // Across the sequence wrap-around, with a late packet from before it.
        let seqs = [65533u16, 65534, 65535, 0, 65532, 1, 2];
        for (i, &seq) in seqs.iter().enumerate() {
            let payload: Vec<u8> = (0..200).map(|b| (b as u8) ^ (i as u8)).collect();
            let ts = 3000 * i as u32;
            write_rtp(&mut buf, i % 2 == 0, 96, seq, ts, 0x1234_5678, &payload);
            let roc = stream.roc_for(seq);
            out.protect(&mut buf, roc).expect("protect");
            assert_eq!(buf.len(), HEADER_LEN + payload.len() + out.overhead());
            assert_ne!(&buf[HEADER_LEN..HEADER_LEN + 200], &payload[..]);
            let plain = rx
                .decrypt_rtp(&buf)
                .unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
            assert_eq!(&plain[HEADER_LEN..], &payload[..], "{profile:?} seq {seq}");
            assert_eq!(&plain[2..4], &seq.to_be_bytes());
        }
    }

    #[test]
    fn rtc_decrypts_what_is_protected_in_place_across_the_wrap() {
        round_trip(
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
            ProtectionProfile::AeadAes128Gcm,
            12,
        );
        round_trip(
            SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
            ProtectionProfile::AeadAes256Gcm,
            12,
        );
        round_trip(
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
            ProtectionProfile::Aes128CmHmacSha1_80,
            14,
        );
        round_trip(
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
            ProtectionProfile::Aes128CmHmacSha1_32,
            14,
        );
    }

    #[test]
    fn a_tampered_packet_is_rejected_by_the_receiver() {
        let k = keys(SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80, 14);
        let mut out = SrtpOut::new(&k).expect("supported");
        let mut rx = receiver(&k, ProtectionProfile::Aes128CmHmacSha1_80);
        let mut buf = Vec::with_capacity(1500);
        write_rtp(&mut buf, false, 111, 7, 960, 42, &[1u8; 100]);
        out.protect(&mut buf, 0).expect("protect");
        buf[20] ^= 1;
        assert!(rx.decrypt_rtp(&buf).is_err());
    }

    #[test]
    fn other_profiles_and_bad_keys_are_left_to_rtc() {
        let mut k = keys(SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm, 12);
        k.master_key = vec![1; 16];
        assert!(SrtpOut::new(&k).is_none(), "AES-256-GCM with a 16-byte key");
        let mut k = keys(SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm, 12);
        k.profile = SrtpProtectionProfile::Unsupported;
        assert!(SrtpOut::new(&k).is_none());
        let short = keys(SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80, 12);
        assert!(SrtpOut::new(&short).is_none());
    }

    #[test]
    fn rollover_counter_follows_the_wrap_and_late_packets() {
        let mut s = OutStream::default();
        assert_eq!(s.roc_for(65000), 0);
        assert_eq!(s.roc_for(65535), 0);
        assert_eq!(s.roc_for(3), 1);
        assert_eq!(s.roc_for(65534), 0, "late, from before the wrap");
        assert_eq!(s.roc_for(4), 1);
        assert_eq!(s.roc_for(4), 1, "a repeat keeps the counter");
        // A jump forward by less than half the space across the wrap counts once.
        let mut t = OutStream::default();
        t.roc_for(60000);
        assert_eq!(t.roc_for(20000), 1);
        assert_eq!(t.roc_for(40000), 1);
    }
}
