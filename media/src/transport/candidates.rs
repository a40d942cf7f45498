//! The host candidates a peer offers: UDP on the shard's socket and passive TCP (RFC 6544)
//! on its ICE-TCP listener, and which of them stands for the local side of a packet.

use std::net::SocketAddr;

use rtc::ice::tcp_type::TcpType;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::RTCPeerConnection;

use crate::ids::Via;
use crate::MediaError;

/// The host candidates every peer of a shard offers: UDP on the shard's socket, and passive
/// TCP (RFC 6544) on its ICE-TCP listener, for browsers whose network blocks UDP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
}

impl Candidates {
    /// UDP candidates only.
    pub fn udp(udp: Vec<SocketAddr>) -> Candidates {
        Candidates {
            udp,
            tcp: Vec::new(),
        }
    }

    /// The local address a packet from `from` over `via` is handed to rtc with. rtc's ICE
    /// agent accepts a check only when that address is one of its local candidates (of that
    /// protocol), but the socket's own address is not one whenever the advertised addresses
    /// differ from it: a wildcard bind (the default) or a public address in front of a NAT
    /// (`advertise_ip`). Every peer of the shard has the same candidates, so the first one of
    /// the sender's address family stands for the socket.
    pub fn local_for(&self, via: Via, from: SocketAddr) -> Option<SocketAddr> {
        let list = match via {
            Via::Udp => &self.udp,
            Via::Tcp => &self.tcp,
        };
        list.iter().find(|c| c.is_ipv4() == from.is_ipv4()).copied()
    }
}

pub(super) fn add_candidates(
    pc: &mut RTCPeerConnection,
    candidates: &Candidates,
) -> Result<(), MediaError> {
    let udp = candidates
        .udp
        .iter()
        .map(|a| (a, "udp", TcpType::Unspecified));
    let tcp = candidates.tcp.iter().map(|a| (a, "tcp", TcpType::Passive));
    for (addr, network, tcp_type) in udp.chain(tcp) {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: network.to_owned(),
                address: addr.ip().to_string(),
                port: addr.port(),
                component: 1,
                ..Default::default()
            },
            tcp_type,
        }
        .new_candidate_host()
        .map_err(MediaError::rtc)?;
        let init = RTCIceCandidate::from(&candidate)
            .to_json()
            .map_err(MediaError::rtc)?;
        pc.add_local_candidate(init).map_err(MediaError::rtc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_candidate_matches_the_protocol_and_the_family() {
        let c = Candidates {
            udp: vec![
                "192.0.2.1:10888".parse().unwrap(),
                "[2001:db8::1]:10888".parse().unwrap(),
            ],
            tcp: vec!["192.0.2.1:10889".parse().unwrap()],
        };
        let v4: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::7]:5000".parse().unwrap();
        assert_eq!(c.local_for(Via::Udp, v4), Some(c.udp[0]));
        assert_eq!(c.local_for(Via::Udp, v6), Some(c.udp[1]));
        assert_eq!(c.local_for(Via::Tcp, v4), Some(c.tcp[0]));
        assert_eq!(c.local_for(Via::Tcp, v6), None);
    }
}
