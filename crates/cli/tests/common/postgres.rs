//! Debian's PostgreSQL, started for a test on a loopback port with its data in a temporary
//! directory.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::net::free_port;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The server binaries of Debian's newest installed PostgreSQL.
pub fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed: run `bash scripts/setup-debian.sh` (Debian package postgresql)")
    })
}

/// A private PostgreSQL on a loopback port, its data in a temporary directory; stopped on drop.
pub struct Postgres {
    pub bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Postgres {
    pub fn as_postgres(program: &Path) -> Command {
        if is_root() {
            // initdb and postgres refuse to run as root.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    pub fn start() -> Postgres {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let out = Self::as_postgres(&bin.join("initdb"))
            .args(["--auth=trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            bin,
            data,
            port: free_port(),
            child: None,
            _dir: dir,
        };
        pg.run();
        pg
    }

    pub fn run(&mut self) {
        let child = Self::as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(&self.data)
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-k")
            .arg(self.data.parent().unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "postgres did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Accepting connections may come a moment after the port opens.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Stops the server at once, as a crash or a failover would.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            // runuser does not pass SIGKILL on: stop the server itself.
            let _ = Self::as_postgres(&self.bin.join("pg_ctl"))
                .args(["stop", "-m", "immediate", "-D"])
                .arg(&self.data)
                .output();
        }
    }

    /// Creates `user` and a database `db` it owns, as the official image does from
    /// POSTGRES_USER and POSTGRES_DB.
    pub fn create_user_and_database(&self, user: &str, db: &str) {
        let port = self.port.to_string();
        for (program, args) in [
            ("createuser", vec![user]),
            ("createdb", vec!["-O", user, db]),
        ] {
            let out = Command::new(self.bin.join(program))
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
                .args(&args)
                .output()
                .unwrap_or_else(|e| panic!("run {program}: {e}"));
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
