//! The `ice_servers` setting: STUN/TURN servers handed to browsers (RTCConfiguration's
//! `iceServers`), with TURN credentials either fixed or made per request from a shared secret
//! the way coturn's `use-auth-secret` checks them (the "TURN REST API" draft):
//! `username = "<expiry unix time>:<name>"`, `credential = base64(HMAC-SHA1(secret, username))`.

use anyhow::bail;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

/// One STUN/TURN server entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs of one server (`turn:host:3478?transport=tcp`).
    pub urls: Vec<String>,
    /// Fixed TURN user name (with `credential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Fixed TURN password (with `username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Shared secret of the TURN server (coturn `static-auth-secret`): credentials are made
    /// per request and expire after `ttl` seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Lifetime of credentials made from `secret`, in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: u64,
}

fn default_ttl() -> u64 {
    86_400
}

impl IceServer {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.urls.is_empty() {
            bail!("ice_servers: an entry has no urls");
        }
        let mut turn = false;
        for url in &self.urls {
            let scheme = url.split(':').next().unwrap_or("");
            match scheme {
                "stun" | "stuns" => {}
                "turn" | "turns" => turn = true,
                _ => bail!("ice_servers: {url:?} is not a stun:, stuns:, turn: or turns: URL"),
            }
            if url.len() <= scheme.len() + 1 {
                bail!("ice_servers: {url:?} has no host");
            }
        }
        let fixed = self.username.is_some() || self.credential.is_some();
        if fixed && self.secret.is_some() {
            bail!("ice_servers: give either username/credential or secret, not both");
        }
        if fixed && (self.username.is_none() || self.credential.is_none()) {
            bail!("ice_servers: username and credential go together");
        }
        if turn && !fixed && self.secret.is_none() {
            bail!(
                "ice_servers: TURN URLs {:?} need username/credential or secret",
                self.urls
            );
        }
        if self.secret.as_deref().is_some_and(str::is_empty) {
            bail!("ice_servers: secret must not be empty");
        }
        if !(60..=30 * 86_400).contains(&self.ttl) {
            bail!(
                "ice_servers: ttl must be between 60 and 2592000 seconds, got {}",
                self.ttl
            );
        }
        Ok(())
    }

    /// The RTCIceServer dictionary for a browser, credentials made at `now` (unix seconds)
    /// when the entry has a secret.
    pub fn to_browser(&self, now: u64) -> Value {
        let mut entry = json!({"urls": self.urls});
        if let (Some(user), Some(password)) = (&self.username, &self.credential) {
            entry["username"] = json!(user);
            entry["credential"] = json!(password);
        } else if let Some(secret) = &self.secret {
            let (user, password) = turn_rest_credentials(secret, now + self.ttl, "sylk");
            entry["username"] = json!(user);
            entry["credential"] = json!(password);
        }
        entry
    }
}

/// Time-limited TURN credentials valid until `expiry` (unix seconds) for `name`.
pub fn turn_rest_credentials(secret: &str, expiry: u64, name: &str) -> (String, String) {
    let username = format!("{expiry}:{name}");
    let mac = hmac_sha1(secret.as_bytes(), username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac);
    (username, credential)
}

/// HMAC-SHA1 (RFC 2104).
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha1::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha1::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 2202's HMAC-SHA1 test cases 1, 2 and 6 (a key longer than a block).
    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        assert_eq!(
            hex(&hmac_sha1(&[0x0b; 20], b"Hi There")),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    /// What coturn computes for `use-auth-secret`: base64(HMAC-SHA1(secret, "expiry:name")),
    /// here against a value computed independently (Python's hmac module).
    #[test]
    fn turn_rest_credentials_as_coturn_checks_them() {
        let (user, password) = turn_rest_credentials("north", 1_700_000_000, "sylk");
        assert_eq!(user, "1700000000:sylk");
        assert_eq!(password, PYTHON_HMAC);
    }

    // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"north",
    //   b"1700000000:sylk",hashlib.sha1).digest()).decode())'
    const PYTHON_HMAC: &str = "zjIcTCtyUsY6/bm25qXR4ka5S8k=";

    #[test]
    fn browser_entries() {
        let stun = IceServer {
            urls: vec!["stun:stun.example.com:3478".into()],
            username: None,
            credential: None,
            secret: None,
            ttl: 86_400,
        };
        stun.validate().unwrap();
        assert_eq!(
            stun.to_browser(0),
            json!({"urls": ["stun:stun.example.com:3478"]})
        );
        let turn = IceServer {
            urls: vec!["turn:turn.example.com?transport=tcp".into()],
            secret: Some("north".into()),
            ttl: 3600,
            ..stun.clone()
        };
        turn.validate().unwrap();
        let entry = turn.to_browser(1_700_000_000 - 3600);
        assert_eq!(entry["username"], "1700000000:sylk");
        assert_eq!(entry["credential"], PYTHON_HMAC);
        let bad = [
            IceServer {
                urls: vec![],
                ..stun.clone()
            },
            IceServer {
                urls: vec!["http://x".into()],
                ..stun.clone()
            },
            IceServer {
                urls: vec!["turn:x".into()],
                ..stun.clone()
            },
            IceServer {
                username: Some("u".into()),
                ..turn.clone()
            },
            IceServer {
                ttl: 1,
                ..turn.clone()
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?}");
        }
    }
}
