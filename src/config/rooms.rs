//! Per-room settings, as SylkServer's `[<room uri>]` sections: who may join
//! (`access_policy`, `allow`, `deny`), `video_disabled`, `invite_participants`, `persistent`
//! `max_bitrate` and `video_codec`. TOML:
//!
//! ```toml
//! [rooms."board@conference.example.com"]
//! access_policy = "allow,deny"   # or "deny,allow"
//! allow = ["example.com", "guest@other.org"]   # "all", "none", domains, accounts, * wildcards
//! deny = ["intern@example.com"]
//! video_disabled = true
//! max_bitrate = 2000000          # bits/s shared among the publishers (REMB)
//! video_codec = "h264"           # or "vp8", "vp9"
//! ```

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// The lowest `max_bitrate` taken: below it a browser cannot send even its lowest video.
pub const MIN_BITRATE: u64 = 32_000;

/// Refuses a video codec name rooms cannot have.
pub fn check_video_codec(setting: &str, name: &str) -> anyhow::Result<()> {
    if media::VideoCodec::parse(name).is_none() {
        bail!("{setting} must be \"vp8\", \"vp9\" or \"h264\", got {name:?}");
    }
    Ok(())
}

/// One room's settings (defaults: anyone may join, video allowed).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomSettings {
    /// `allow,deny`: an account may join when `allow` names it and `deny` does not.
    /// `deny,allow`: when `deny` does not name it, or `allow` does.
    pub access_policy: String,
    /// Who `allow` names: `all`, `none`, domains and `user@domain` accounts (`*` wildcards).
    pub allow: Vec<String>,
    /// Who `deny` names, the same way.
    pub deny: Vec<String>,
    /// Audio only: the room is made without video whatever the first joiner asks.
    pub video_disabled: bool,
    /// Accounts invited (`conference-invite` to their connections, a push to their devices)
    /// when the first participant joins, in that participant's name.
    pub invite_participants: Vec<String>,
    /// Shared files outlive the room: kept when it empties, listed again when it starts.
    pub persistent: bool,
    /// Bits/s the room's publishers may send together, as SylkServer shares it: with active
    /// participants (`videoroom-configure`) each active one gets an equal share and the others
    /// 100 kbit/s; else each gets `max_bitrate / (participants - 1)`. Told to the browsers by
    /// REMB. Unset: the gateway's `room_max_bitrate`.
    pub max_bitrate: Option<u64>,
    /// The room's video codec (`vp8`, `vp9`, `h264`): publishers send it and subscribers get
    /// it as it is. Unset: the gateway's `room_video_codec`.
    pub video_codec: Option<String>,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            access_policy: "allow,deny".into(),
            allow: vec!["all".into()],
            deny: vec!["none".into()],
            video_disabled: false,
            invite_participants: Vec::new(),
            persistent: false,
            max_bitrate: None,
            video_codec: None,
        }
    }
}

impl RoomSettings {
    pub fn validate(&self, room: &str) -> anyhow::Result<()> {
        if !matches!(self.access_policy.as_str(), "allow,deny" | "deny,allow") {
            bail!(
                "rooms.\"{room}\".access_policy must be \"allow,deny\" or \"deny,allow\", got {:?}",
                self.access_policy
            );
        }
        if self
            .allow
            .iter()
            .chain(&self.deny)
            .any(|e| e.trim().is_empty())
        {
            bail!("rooms.\"{room}\": allow and deny must not contain empty entries");
        }
        if let Some(bad) = self
            .invite_participants
            .iter()
            .find(|a| signaling::sip::Aor::parse(a).is_none())
        {
            bail!("rooms.\"{room}\".invite_participants: {bad:?} is not a user@domain account");
        }
        if let Some(codec) = &self.video_codec {
            check_video_codec(&format!("rooms.\"{room}\".video_codec"), codec)?;
        }
        if self.max_bitrate.is_some_and(|b| b < MIN_BITRATE) {
            bail!("rooms.\"{room}\".max_bitrate must be at least {MIN_BITRATE} bits/s");
        }
        Ok(())
    }

    /// Whether `account` (`user@domain`) may join.
    pub fn allows(&self, account: &str) -> bool {
        let allowed = names(&self.allow, account);
        let denied = names(&self.deny, account);
        match self.access_policy.as_str() {
            "deny,allow" => !denied || allowed,
            _ => allowed && !denied,
        }
    }
}

/// Whether `list` names `account`: `all`, its domain, or itself (`*` wildcards allowed).
fn names(list: &[String], account: &str) -> bool {
    let domain = account.rsplit_once('@').map_or("", |(_, d)| d);
    list.iter().map(|e| e.trim()).any(|entry| match entry {
        "all" => true,
        "none" => false,
        e if e.contains('@') => super::wildcard_match(e, account),
        e => super::wildcard_match(e, domain),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(policy: &str, allow: &[&str], deny: &[&str]) -> RoomSettings {
        RoomSettings {
            access_policy: policy.into(),
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn access_policies_as_sylkserver_reads_them() {
        assert!(RoomSettings::default().allows("anyone@anywhere.org"));
        let r = room(
            "allow,deny",
            &["example.com", "guest@other.org"],
            &["intern@example.com"],
        );
        assert!(r.allows("alice@example.com"));
        assert!(r.allows("Guest@Other.org"), "case-insensitive");
        assert!(
            !r.allows("intern@example.com"),
            "denied although its domain is allowed"
        );
        assert!(!r.allows("bob@other.org"));
        let r = room("deny,allow", &["boss@example.net"], &["example.net"]);
        assert!(r.allows("carol@elsewhere.org"), "not denied");
        assert!(!r.allows("dave@example.net"));
        assert!(
            r.allows("boss@example.net"),
            "denied by domain, allowed by name"
        );
        let r = room("allow,deny", &["*.example.com"], &["none"]);
        assert!(r.allows("eve@sip.example.com"));
        assert!(!r.allows("eve@example.com"));
        assert!(!room("allow,deny", &["none"], &["none"]).allows("a@b.c"));
        assert!(room("sideways", &[], &[]).validate("r").is_err());
        assert!(room("allow,deny", &[" "], &[]).validate("r").is_err());
        let mut r = RoomSettings {
            invite_participants: vec!["bob@example.com".into()],
            ..Default::default()
        };
        r.validate("r").unwrap();
        r.invite_participants = vec!["not an account".into()];
        assert!(r
            .validate("r")
            .unwrap_err()
            .to_string()
            .contains("invite_participants"));
    }

    #[test]
    fn a_max_bitrate_too_low_for_video_is_refused() {
        let ok = RoomSettings {
            max_bitrate: Some(MIN_BITRATE),
            ..Default::default()
        };
        assert!(ok.validate("r@x").is_ok());
        let low = RoomSettings {
            max_bitrate: Some(MIN_BITRATE - 1),
            ..Default::default()
        };
        let e = low.validate("r@x").unwrap_err().to_string();
        assert!(e.contains("max_bitrate"), "{e}");
    }
}
