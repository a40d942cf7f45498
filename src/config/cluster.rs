//! The `[cluster]` settings: several gateways as one service over Redis (see
//! `docs/cluster.md`). Without `redis_url` the gateway runs alone, as by default.

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cluster {
    /// `redis://[:password@]host:port/` of the Redis that carries the bus (account and room events
    /// between nodes) and the room placement leases. Unset: no cluster.
    pub redis_url: Option<String>,
    /// This node's name, unique in the cluster (logs, placement records). Unset: the host
    /// name and the listening port.
    pub node_id: Option<String>,
    /// Seconds a node's records (its liveness, the rooms it holds) last without renewal: a
    /// node that dies is noticed, and its rooms released, within this time.
    pub lease: f64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            redis_url: None,
            node_id: None,
            lease: 10.0,
        }
    }
}

impl Cluster {
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.redis_url {
            if url.starts_with("rediss://") {
                bail!("cluster.redis_url: TLS to Redis (rediss://) is not supported; reach Redis on the private network (redis://), or through a TLS tunnel");
            }
            if !url.starts_with("redis://") {
                bail!("cluster.redis_url must start with redis://, got {url:?}");
            }
        }
        if let Some(id) = &self.node_id {
            if id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
            {
                bail!("cluster.node_id must be 1-64 characters of A-Z a-z 0-9 - _ . :, got {id:?}");
            }
        }
        if !(1.0..=300.0).contains(&self.lease) {
            bail!(
                "cluster.lease must be between 1 and 300 seconds, got {}",
                self.lease
            );
        }
        Ok(())
    }

    pub fn enabled(&self) -> bool {
        self.redis_url.is_some()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn cluster_and_store_settings_read_and_checked() {
        let cfg = Config::from_toml(
            "storage_url = \"postgres://u:p@db:5432/sylk\"\n[cluster]\nredis_url = \"redis://10.0.0.2:6379/\"\nnode_id = \"gw-a.example:1\"\nlease = 5\n",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.storage_url.as_deref(),
            Some("postgres://u:p@db:5432/sylk")
        );
        assert!(cfg.cluster.enabled());
        assert_eq!(cfg.cluster.node_id.as_deref(), Some("gw-a.example:1"));
        assert_eq!(cfg.cluster.lease, 5.0);
        assert!(!Config::default().cluster.enabled());
        for (toml, says) in [
            ("storage_url = \"mysql://x\"", "storage_url"),
            ("[cluster]\nredis_url = \"http://x\"", "cluster.redis_url"),
            ("[cluster]\nredis_url = \"rediss://x\"", "TLS to Redis"),
            ("[cluster]\nnode_id = \"a b\"", "cluster.node_id"),
            ("[cluster]\nnode_id = \"\"", "cluster.node_id"),
            ("[cluster]\nlease = 0.5", "cluster.lease"),
            ("[cluster]\nlease = 1000", "cluster.lease"),
            ("[cluster]\nredis = \"redis://x\"", "redis"),
        ] {
            let e = Config::from_toml(toml)
                .and_then(|c| c.validate())
                .expect_err(toml)
                .to_string();
            assert!(e.contains(says), "{toml}: {e}");
        }
    }
}
