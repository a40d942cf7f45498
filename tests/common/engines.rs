//! Throwaway PostgreSQL and Redis servers from the Debian packages, on loopback and a free
//! port, each stopped when its guard drops (the cluster and storage tests).
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the cluster is created and
//! started as the `postgres` user the package made, in a directory it owns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The newest PostgreSQL server binaries installed (`/usr/lib/postgresql/<v>/bin`).
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (tests/run.sh installs the postgresql package)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL server version")
}

fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A PostgreSQL server of its own: `url(db)` names a database on it.
pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("sylk-pg")
            .tempdir()
            .unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the PostgreSQL directory");
        }
        let data = dir.path().join("data");
        let out = as_owner(&bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200",
            dir.path().display()
        );
        let out = as_owner(&bin.join("pg_ctl"))
            .args(["-w", "-t", "60", "-l"])
            .arg(dir.path().join("log"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "start"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let pg = Postgres { dir, port, bin };
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(pg.dir.path().join("log")).unwrap_or_default()
        );
        pg
    }

    /// The URL of database `db`, created on first use.
    pub fn database(&self, db: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
                &self.port.to_string(),
            ])
            .args(["-d", "postgres", "-c", &format!("CREATE DATABASE {db}")])
            .output()
            .unwrap();
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("exists"),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(db)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Waits until the server `child` (`what`) listens on loopback `port`; fails at once if it
/// exited (the port taken by another process, say).
pub fn wait_listening(child: &mut Child, port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = child.try_wait().ok().flatten();
        assert!(exited.is_none(), "{what} exited: {exited:?}");
        assert!(Instant::now() < deadline, "{what} did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Redis server of its own (no persistence).
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (tests/run.sh installs redis-server)");
        // Held from here on: a failed start still stops the server.
        let mut redis = Redis { child, port };
        wait_listening(&mut redis.child, port, "redis-server");
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway as node `node` of a cluster on `redis`, with the store at `store` (plain HTTP,
/// like [`super::Gateway::start`]) and `extra` flags.
pub fn cluster_node(node: &str, redis: &Redis, store: &str, extra: &[&str]) -> super::Gateway {
    let url = redis.url();
    let mut args = vec![
        "--storage-url",
        store,
        "--cluster-redis-url",
        &url,
        "--cluster-node-id",
        node,
    ];
    args.extend_from_slice(extra);
    super::Gateway::start(&args)
}
