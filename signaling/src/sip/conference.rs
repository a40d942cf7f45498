//! Rooms of conference domains: an INVITE with no binding token whose Request-URI is
//! `<room>@<domain>` for one of the configured domains goes to the application's conference
//! owner (phones calling video rooms), with `room@domain` as the invite's account; the rest of
//! its handling is an incoming call's ([`super::incoming`]).

use tokio::sync::mpsc;

use super::incoming::IncomingUpdate;
use super::ua::SipUa;

impl SipUa {
    /// INVITEs to a room of one of `domains` (`<room>@<domain>`, no binding token) go to
    /// `owner`, with the room's URI (`room@domain`) as the invite's account.
    pub fn route_conferences(&self, domains: Vec<String>, owner: mpsc::Sender<IncomingUpdate>) {
        let domains = domains
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        *self
            .inner
            .conferences
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((domains, owner));
    }

    /// The room a Request-URI names and the owner of its domain's rooms, if it is one.
    pub(crate) fn conference_for(
        &self,
        uri: &str,
    ) -> Option<(String, mpsc::Sender<IncomingUpdate>)> {
        let guard = self
            .inner
            .conferences
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (domains, owner) = guard.as_ref()?;
        let room = conference_room(uri, domains)?;
        Some((room, owner.clone()))
    }
}

/// `room@domain` of a Request-URI (`sip:room@domain[:port][;params]`) whose domain is one of
/// `domains` (lower-case).
pub fn conference_room(uri: &str, domains: &[String]) -> Option<String> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let rest = rest.split([';', '?', '>']).next()?;
    let (user, host) = rest.rsplit_once('@')?;
    let host = host.split(':').next()?.to_ascii_lowercase();
    let valid = |c: char| c.is_ascii_alphanumeric() || "-_.!~*'()%+".contains(c);
    if user.is_empty() || user.len() > 64 || !user.chars().all(valid) {
        return None;
    }
    domains
        .contains(&host)
        .then(|| format!("{}@{host}", user.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::conference_room;

    #[test]
    fn a_room_of_a_conference_domain_is_found_in_the_request_uri() {
        let d = vec!["conference.example.com".to_string()];
        let room = |u: &str| conference_room(u, &d);
        assert_eq!(
            room("sip:Daily@Conference.example.com:5060;transport=udp").as_deref(),
            Some("daily@conference.example.com")
        );
        assert_eq!(room("sip:daily@example.com"), None);
        assert_eq!(room("sip:@conference.example.com"), None);
        assert_eq!(room("sip:a b@conference.example.com"), None);
        assert_eq!(room("tel:+123"), None);
        assert_eq!(
            room(&format!("sip:{}@conference.example.com", "x".repeat(65))),
            None
        );
    }
}
