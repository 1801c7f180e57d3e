//! A private nats-server (JetStream) that a test can stop and start again, on the same port
//! and store, to play an outage of the broker; optionally with the per-service users and
//! permissions of `deploy/nats/permissions.conf`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server child process of the test.
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    store: PathBuf,
    child: Option<Child>,
    users: Option<NatsUsers>,
    /// Extra configuration (e.g. a `tls {}` block), written with the permissions if any.
    conf: Option<String>,
    log: Option<PathBuf>,
}

/// The deployment's NATS permissions (users `gateway`, `ledger`, `analytics`, `alerting`,
/// `operator`; passwords from `$TOLLGATE_NATS_<USER>_PASSWORD`).
pub const PERMISSIONS_CONF: &str = include_str!("../../../deploy/nats/permissions.conf");

/// The users of `PERMISSIONS_CONF`.
pub const NATS_USERS: [&str; 5] = ["gateway", "ledger", "analytics", "alerting", "operator"];

/// Random passwords of the users of a secured server.
#[derive(Debug, Clone)]
pub struct NatsUsers {
    passwords: BTreeMap<&'static str, String>,
}

impl NatsUsers {
    fn generate() -> Self {
        let passwords = NATS_USERS
            .into_iter()
            .map(|user| (user, uuid::Uuid::new_v4().simple().to_string()))
            .collect();
        Self { passwords }
    }

    /// Access as `user` (one of [`NATS_USERS`]).
    pub fn access(&self, user: &str) -> tollgate_events::NatsAccess {
        let password = self
            .passwords
            .get(user)
            .unwrap_or_else(|| panic!("no NATS user {user}"));
        tollgate_events::NatsAccess::with_user(user, password.clone())
    }

    /// `NATS_USER` and `NATS_PASSWORD` of `user`, for a service's environment.
    pub fn env(&self, user: &str) -> [(String, String); 2] {
        [
            ("NATS_USER".into(), user.to_owned()),
            ("NATS_PASSWORD".into(), self.passwords[user].clone()),
        ]
    }
}

/// The nats-server binary: `TOLLGATE_NATS_SERVER` (`scripts/test` sets it to the one it
/// installs), or `nats-server` on the `PATH`.
fn binary() -> PathBuf {
    std::env::var_os("TOLLGATE_NATS_SERVER").map_or_else(|| "nats-server".into(), PathBuf::from)
}

impl NatsServer {
    /// Starts a server with JetStream on a free port and a fresh store directory.
    pub fn start() -> Self {
        Self::start_as(None, None)
    }

    /// Starts a server with `conf` added to its configuration (a `tls {}` block, say).
    pub fn start_with_conf(conf: &str) -> Self {
        Self::start_as(None, Some(conf.to_owned()))
    }

    /// Starts a server that requires the users and permissions of [`PERMISSIONS_CONF`] (with
    /// fresh passwords, [`NatsServer::users`]); its log is [`NatsServer::log`].
    pub fn start_secured() -> Self {
        Self::start_as(Some(NatsUsers::generate()), None)
    }

    fn start_as(users: Option<NatsUsers>, conf: Option<String>) -> Self {
        let store = std::env::temp_dir().join(format!("tollgate-nats-{}", uuid::Uuid::now_v7()));
        let log = (users.is_some() || conf.is_some()).then(|| store.with_extension("log"));
        let mut server = Self {
            binary: binary(),
            port: 0,
            store,
            child: None,
            users,
            conf,
            log,
        };
        // A port found free can be taken before the server binds it: then try another.
        for _ in 0..5 {
            server.port = free_port();
            if server.try_resume() {
                return server;
            }
        }
        panic!("nats-server did not start on any of 5 free ports");
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The users of a server from [`NatsServer::start_secured`].
    pub fn users(&self) -> Option<&NatsUsers> {
        self.users.as_ref()
    }

    /// What the server logged so far (a secured server logs to a file; else empty).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    }

    /// Stops the server (SIGTERM, so JetStream flushes what it acknowledged) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store; returns once it accepts clients.
    pub fn resume(&mut self) {
        assert!(self.try_resume(), "nats-server did not start on its port");
    }

    /// Starts the server on its port and store; true once it greets a client, false if it
    /// exited (its port was taken).
    fn try_resume(&mut self) -> bool {
        assert!(self.child.is_none(), "nats-server already runs");
        let mut command = Command::new(&self.binary);
        if let Some(log) = &self.log {
            let path = self.store.with_extension("conf");
            let permissions = self.users.as_ref().map_or("", |_| PERMISSIONS_CONF);
            let extra = self.conf.as_deref().unwrap_or_default();
            std::fs::write(&path, format!("{permissions}\n{extra}\n")).expect("nats.conf written");
            command.arg("-c").arg(&path).arg("-l").arg(log);
        }
        for (user, password) in self.users.iter().flat_map(|users| &users.passwords) {
            let var = format!("TOLLGATE_NATS_{}_PASSWORD", user.to_ascii_uppercase());
            command.env(var, password);
        }
        let child = command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()));
        // Held here while waiting, so a failed wait still kills it (`Drop`).
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        // A bare TCP connect is not proof: to a port nobody listens on yet, a connect from
        // the same ephemeral port connects to itself. The server's INFO greeting is.
        while !greets(self.port) {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            if exited {
                self.child = None;
                return false;
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether a NATS server answers on `port` with its `INFO` line.
fn greets(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut greeting = [0u8; 4];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO"
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.store);
        let _ = std::fs::remove_file(self.store.with_extension("conf"));
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}
