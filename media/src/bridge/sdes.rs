//! SDES-SRTP on the plain legs toward SIP (RFC 4568): the keys travel in the SDP
//! (`a=crypto:<tag> <suite> inline:<key||salt>`), and the leg protects what it sends and
//! unprotects what it receives with them. What the gateway offers and accepts follows the
//! [`SdesMode`] of the account's domain, as Janus's `srtp` setting does for SylkServer:
//! `optional` offers RTP/AVP with crypto lines (Janus's `sdes_optional`) and takes either
//! answer, `mandatory` offers RTP/SAVP and refuses plain RTP, `disabled` offers none and
//! refuses RTP/SAVP.

use base64::Engine as _;
use bytes::BytesMut;
use rand::{Rng, RngCore};
use rtc::srtp::context::Context;
use rtc::srtp::protection_profile::ProtectionProfile;

/// Whether a call's plain leg is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SdesMode {
    Disabled,
    /// Offer keys on RTP/AVP, take a plain or an encrypted answer or offer.
    #[default]
    Optional,
    /// RTP/SAVP only: a peer without keys is refused (488).
    Mandatory,
}

impl SdesMode {
    pub fn parse(name: &str) -> Option<SdesMode> {
        match name.to_ascii_lowercase().as_str() {
            "disabled" => Some(SdesMode::Disabled),
            "optional" => Some(SdesMode::Optional),
            "mandatory" => Some(SdesMode::Mandatory),
            _ => None,
        }
    }
}

/// The crypto suites the gateway offers, in its order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    AeadAes128Gcm,
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl Suite {
    pub const OFFERED: [Suite; 3] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::AeadAes128Gcm,
    ];

    fn name(self) -> &'static str {
        match self {
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn parse(name: &str) -> Option<Suite> {
        Suite::OFFERED.into_iter().find(|s| s.name() == name)
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }

    /// Master key and salt lengths (RFC 3711, RFC 7714 §12).
    fn lengths(self) -> (usize, usize) {
        match self {
            Suite::AeadAes128Gcm => (16, 12),
            _ => (16, 14),
        }
    }
}

/// One `a=crypto` attribute.
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: Suite,
    /// Master key, then master salt.
    key: Vec<u8>,
}

impl std::fmt::Debug for Crypto {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl Crypto {
    /// A fresh key for `suite`, under `tag`.
    pub fn random(tag: u32, suite: Suite, rng: &mut impl RngCore) -> Crypto {
        let (k, s) = suite.lengths();
        let mut key = vec![0u8; k + s];
        rng.fill_bytes(&mut key);
        Crypto { tag, suite, key }
    }

    /// The gateway's offer: one fresh key per suite, tags 1, 2, 3.
    pub fn offer(rng: &mut impl Rng) -> Vec<Crypto> {
        Suite::OFFERED
            .into_iter()
            .zip(1..)
            .map(|(suite, tag)| Crypto::random(tag, suite, rng))
            .collect()
    }

    /// The value of an `a=crypto:` attribute (`1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^31`);
    /// None for a suite the gateway does not have, a key of the wrong length, MKIs or
    /// session parameters it cannot honour.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut parts = value.split_whitespace();
        let tag = parts.next()?.parse().ok()?;
        let suite = Suite::parse(parts.next()?)?;
        let params = parts.next()?;
        // Session parameters (UNENCRYPTED_SRTP, KDR, ...) change the protection: refused.
        if parts.next().is_some() {
            return None;
        }
        // One key only (`;`-separated key params would be several).
        let inline = params.strip_prefix("inline:")?;
        if inline.contains(';') {
            return None;
        }
        let mut fields = inline.split('|');
        let key = base64::engine::general_purpose::STANDARD
            .decode(fields.next()?)
            .ok()?;
        // A lifetime is fine (we never send 2^31 packets); an MKI is not supported.
        let _lifetime = fields.next();
        if fields.next().is_some() {
            return None;
        }
        let (k, s) = suite.lengths();
        (key.len() == k + s).then_some(Crypto { tag, suite, key })
    }

    /// The SDP line, with its CRLF.
    pub fn line(&self) -> String {
        format!(
            "a=crypto:{} {} inline:{}\r\n",
            self.tag,
            self.suite.name(),
            base64::engine::general_purpose::STANDARD.encode(&self.key)
        )
    }

    /// The same suite under `tag` with a fresh key: the answer to an offered attribute.
    pub fn answer(&self, rng: &mut impl RngCore) -> Crypto {
        Crypto::random(self.tag, self.suite, rng)
    }

    fn context(&self) -> Option<Context> {
        let (k, _) = self.suite.lengths();
        let provider = rtc::crypto::default_provider().ok()?;
        Context::new(
            &self.key[..k],
            &self.key[k..],
            self.suite.profile(),
            None,
            None,
            provider.crypto(),
        )
        .ok()
    }
}

/// The SRTP contexts of one encrypted leg: ours protects what goes to SIP, theirs opens
/// what comes from it.
pub struct SrtpLeg {
    out: Context,
    inbound: Context,
}

impl std::fmt::Debug for SrtpLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpLeg")
    }
}

impl SrtpLeg {
    pub fn new(ours: &Crypto, theirs: &Crypto) -> Option<SrtpLeg> {
        Some(SrtpLeg {
            out: ours.context()?,
            inbound: theirs.context()?,
        })
    }

    /// Protects the RTP or RTCP packet in `buf` in place of it; false if it cannot be.
    pub fn protect(&mut self, buf: &mut Vec<u8>, rtcp: bool) -> bool {
        let sealed = if rtcp {
            self.out.encrypt_rtcp(buf)
        } else {
            self.out.encrypt_rtp(buf)
        };
        match sealed {
            Ok(b) => {
                buf.clear();
                buf.extend_from_slice(&b);
                true
            }
            Err(_) => false,
        }
    }

    /// The clear RTP or RTCP of a protected packet; None when it is not authentic.
    pub fn unprotect(&mut self, data: &[u8], rtcp: bool) -> Option<BytesMut> {
        if rtcp {
            self.inbound.decrypt_rtcp(data).ok()
        } else {
            self.inbound.decrypt_rtp(data).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::write_rtp;

    #[test]
    fn crypto_attributes_round_trip_and_bad_ones_are_refused() {
        let mut rng = rand::rng();
        for c in Crypto::offer(&mut rng) {
            let line = c.line();
            let value = line
                .trim_end()
                .strip_prefix("a=crypto:")
                .expect("attribute");
            assert_eq!(Crypto::parse(value), Some(c.clone()), "{line}");
            assert!(!format!("{c:?}").contains(&value[value.len() - 8..]));
        }
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 30]);
        assert!(Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20")).is_some());
        for bad in [
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4"),
            format!("1 AES_256_CM_HMAC_SHA1_80 inline:{key}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key} KDR=1"),
            format!("x AES_CM_128_HMAC_SHA1_80 inline:{key}"),
            "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=".to_string(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!".to_string(),
            "1 AEAD_AES_128_GCM".to_string(),
            String::new(),
        ] {
            assert_eq!(Crypto::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_leg_opens_what_the_other_side_sealed_and_refuses_forgeries() {
        let mut rng = rand::rng();
        for suite in Suite::OFFERED {
            let a = Crypto::random(1, suite, &mut rng);
            let b = a.answer(&mut rng);
            let mut gateway = SrtpLeg::new(&a, &b).unwrap();
            let mut phone = SrtpLeg::new(&b, &a).unwrap();
            let mut buf = Vec::new();
            write_rtp(&mut buf, true, 0, 7, 160, 0x1234, b"hello phone");
            let clear = buf.clone();
            assert!(gateway.protect(&mut buf, false));
            assert_ne!(buf, clear);
            assert_eq!(&phone.unprotect(&buf, false).unwrap()[..], &clear[..]);
            // A flipped bit, or the gateway's own packet coming back, is refused.
            let mut forged = buf.clone();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            assert!(phone.unprotect(&forged, false).is_none());
            assert!(gateway.unprotect(&buf, false).is_none());
            // RTCP: an empty receiver report.
            let mut rr = vec![0x80, 201, 0, 1, 0, 0, 0x12, 0x34];
            let clear = rr.clone();
            assert!(gateway.protect(&mut rr, true));
            assert_eq!(&phone.unprotect(&rr, true).unwrap()[..], &clear[..]);
        }
    }
}
