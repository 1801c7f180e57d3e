//! Test harness: starts mock-upstream and the gateway in-process against the real NATS and
//! Postgres (`NATS_URL`, `DATABASE_URL`; `scripts/test` provides both), each stack on its own
//! JetStream stream and subject prefix, with its own tenants, so tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod logs;
mod nats;
mod otlp;
mod webhook;
pub use logs::LogCapture;
pub use nats::{NATS_USERS, NatsServer, NatsUsers, PERMISSIONS_CONF};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use webhook::{WebhookDelivery, WebhookReceiver};

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tollgate_alerting::{Alerting, AlertingConfig};
use tollgate_analytics::{Analytics, AnalyticsConfig};
use tollgate_events::{Event, EventBody, UsageRecorded};
use tollgate_gateway::{Gateway, GatewayConfig};
use tollgate_ledger::{Ledger, LedgerConfig};
use tollgate_mock_upstream::{MockConfig, MockFaults, MockStats, MockUpstream};
use tollgate_runtime::telemetry::TelemetryConfig;
use uuid::Uuid;

/// Postgres URL for tests.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database on the test server and returns its URL: for tests whose services
/// look at the whole database (alerting evaluates and delivers every tenant's rules), so
/// parallel tests cannot see each other's rows. [`Stack::stop`] drops it.
pub async fn fresh_database() -> String {
    let base = database_url();
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL names a database");
    let name = format!("tg_{}", Uuid::now_v7().simple());
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
        .await
        .expect("the test server's postgres database");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("database created");
    admin.close().await;
    format!("{server}/{name}")
}

/// Drops a database made by [`fresh_database`] (and whoever is still connected to it).
pub async fn drop_database(url: &str) {
    let Some((server, name)) = url.rsplit_once('/') else {
        return;
    };
    if let Ok(admin) = sqlx::PgPool::connect(&format!("{server}/postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
        admin.close().await;
    }
}

/// `name` under the system's temporary directory, as a string.
pub fn temp_path(name: &str) -> String {
    std::env::temp_dir().join(name).display().to_string()
}

/// NATS URL for tests.
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// The key test stacks seal webhook secrets with (`TOLLGATE_SECRETS_KEY`).
pub const SECRETS_KEY: &str = "5ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4";

/// The demo gateway configuration with prices from the issue (demo-small 0.15/0.60,
/// demo-large 2.50/10.00), pointed at `mock_url`.
pub fn gateway_toml(mock_url: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
workers = 1
# The tests' webhook receivers listen on loopback.
webhook_allow_cidrs = ["127.0.0.0/8"]
[[providers]]
name = "mock"
base_url = "{mock_url}/v1"
api_key = "sk-upstream-secret"
timeout_secs = 30
[[models]]
name = "demo-small"
provider = "mock"
upstream_model = "mock-small"
input_per_million = "0.15"
output_per_million = "0.60"
price_version = "test"
[[models]]
name = "demo-large"
provider = "mock"
upstream_model = "mock-large"
input_per_million = "2.50"
output_per_million = "10.00"
price_version = "test"
"#
    )
}

/// Runs a Python SDK script against a gateway (`TOLLGATE_URL`, `TOLLGATE_KEY` in its
/// environment) with `TOLLGATE_PYTHON` (set by `scripts/test`), else `python3`; panics with its
/// output if it fails (a missing SDK fails the test rather than skipping it). Returns stdout.
pub async fn run_python_script(script: &str, url: &str, key: &str, sdk: &str) -> String {
    let python = std::env::var("TOLLGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .env("TOLLGATE_URL", url)
        .env("TOLLGATE_KEY", key)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e} (set TOLLGATE_PYTHON or run scripts/test)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed (python: {python}; `pip install {sdk}` if the module is missing)\n{stdout}\n{stderr}"
    );
    stdout
}

/// A `[cache]` section for `Stack::start_routed`: embedded Qdrant in a fresh temporary
/// directory, the real model from `TOLLGATE_MODELS_DIR` (set by `scripts/test`), upkeep every
/// second.
pub fn cache_toml() -> String {
    let models = std::env::var("TOLLGATE_MODELS_DIR").unwrap_or_else(|_| {
        panic!("TOLLGATE_MODELS_DIR is not set: run scripts/test (it fetches the model files)")
    });
    let dir = std::env::temp_dir().join(format!("tollgate-cache-{}", Uuid::now_v7().simple()));
    format!(
        "[cache]\ndir = {:?}\nmodels_dir = {models:?}\nload_model = \"at_start\"\nmaintenance_interval_secs = 1\n",
        dir.display().to_string()
    )
}

/// Gateway config for `Stack::start_routed`: a model `claude` served by the mock's Anthropic
/// Messages endpoint (3.00 / 15.00 USD per 1M tokens, cache reads 0.30).
pub const CLAUDE_ROUTE: &str = r#"
[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "{mock}/v1"
api_key = "sk-ant-upstream"
[[models]]
name = "claude"
provider = "anthropic"
upstream_model = "mock-claude"
input_per_million = "3.00"
output_per_million = "15.00"
cached_input_per_million = "0.30"
"#;

/// A running mock-upstream + gateway pair with a private event stream.
pub struct Stack {
    /// Base URL of the gateway, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The operator token.
    pub admin_token: String,
    /// What the mock received.
    pub mock: Arc<MockStats>,
    /// The mock's per-model faults (change them while the stack runs).
    pub faults: Arc<MockFaults>,
    /// Base URL of the mock.
    pub mock_url: String,
    /// This stack's stream name.
    pub stream: String,
    /// This stack's subject prefix.
    pub subject_prefix: String,
    /// The gateway configuration used (to start more instances on the same stream).
    pub config: GatewayConfig,
    /// The database every service of this stack uses.
    pub database_url: String,
    /// Whether the database is this stack's own (from [`fresh_database`]), dropped at `stop`.
    owns_database: bool,
    /// JetStream, for reading events.
    pub js: jetstream::Context,
    /// HTTP client.
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// Spool directories of the gateways started, removed at `stop`.
    spool_dirs: Vec<std::path::PathBuf>,
    /// The NATS every service of the stack uses.
    pub nats_url: String,
    /// Its users, when it is a secured server ([`Stack::start_secured`]).
    nats_users: Option<NatsUsers>,
}

/// NATS access of the test process: `NATS_USER` / `NATS_PASSWORD` (`scripts/test` passes the
/// operator's for its shared, secured server), else anonymous.
pub fn process_nats_access() -> tollgate_events::NatsAccess {
    tollgate_events::NatsAccess::from_env(&std::env::vars().collect())
        .expect("NATS_USER / NATS_PASSWORD are valid")
}

/// Connects to the NATS at `url` with [`process_nats_access`].
pub async fn connect_nats(url: &str) -> async_nats::Client {
    process_nats_access()
        .apply(async_nats::ConnectOptions::new())
        .connect(url)
        .await
        .expect("NATS reachable")
}

/// The test process's `NATS_USER` / `NATS_PASSWORD`, for a service's environment.
pub fn process_nats_env() -> Vec<(String, String)> {
    ["NATS_USER", "NATS_PASSWORD"]
        .into_iter()
        .filter_map(|key| Some((key.to_owned(), std::env::var(key).ok()?)))
        .collect()
}

/// `NATS_USER` / `NATS_PASSWORD` of service `user`: its own on a secured server of the test,
/// else the test process's.
fn nats_credentials(users: Option<&NatsUsers>, user: &str) -> Vec<(String, String)> {
    match users {
        Some(users) => users.env(user).to_vec(),
        None => process_nats_env(),
    }
}

/// A tenant with one key.
#[derive(Debug, Clone)]
pub struct TenantKey {
    /// Tenant id.
    pub tenant_id: Uuid,
    /// Key id.
    pub key_id: Uuid,
    /// The plaintext key.
    pub key: String,
}

impl Stack {
    /// Starts a stack (mock, gateway, ledger) with the default mock.
    pub async fn start() -> Self {
        Self::start_with(MockConfig::default(), |_| {}).await
    }

    /// Starts a stack (mock, gateway, ledger) with a custom mock and a tweak of the gateway config.
    pub async fn start_with(
        mock_config: MockConfig,
        tweak: impl FnOnce(&mut GatewayConfig),
    ) -> Self {
        let mut stack = Self::launch(mock_config, "", tweak, None, None).await;
        stack.start_ledger().await;
        stack
    }

    /// [`Stack::start`] on the NATS at `nats_url` (e.g. a [`NatsServer`] the test stops).
    pub async fn start_on_nats(nats_url: String, tweak: impl FnOnce(&mut GatewayConfig)) -> Self {
        let own = Some((nats_url, None));
        let mut stack = Self::launch(MockConfig::default(), "", tweak, None, own).await;
        stack.start_ledger().await;
        stack
    }

    /// Mock and gateway on a secured `server` ([`NatsServer::start_secured`]) under the
    /// deployment's default stream and subject prefix (the ones its permissions name), each
    /// service as its own NATS user; the stack's `js` is the operator's.
    pub async fn start_secured(server: &NatsServer) -> Self {
        let users = server.users().expect("a secured server").clone();
        let defaults = tollgate_events::StreamSettings::default();
        let own = Some((server.url(), Some(users)));
        Self::launch(
            MockConfig::default(),
            "",
            |config| {
                config.nats.stream.name = defaults.name.clone();
                config.nats.stream.subject_prefix = defaults.subject_prefix.clone();
            },
            None,
            own,
        )
        .await
    }

    /// [`Stack::start`] on a database of its own ([`fresh_database`]).
    pub async fn start_isolated() -> Self {
        let database = fresh_database().await;
        let mut stack = Self::launch(MockConfig::default(), "", |_| {}, Some(database), None).await;
        stack.start_ledger().await;
        stack
    }

    /// Starts a stack whose gateway config has `extra_toml` appended (more `[[models]]`,
    /// `[routing]`, `[[tenant_routes]]`...); `{mock}` in it stands for the mock's base URL.
    pub async fn start_routed(mock_config: MockConfig, extra_toml: &str) -> Self {
        let mut stack = Self::launch(mock_config, extra_toml, |_| {}, None, None).await;
        stack.start_ledger().await;
        stack
    }

    /// Starts mock and gateway only; the test starts ledgers itself (`start_ledger`).
    pub async fn start_bare() -> Self {
        Self::launch(MockConfig::default(), "", |_| {}, None, None).await
    }

    async fn launch(
        mock_config: MockConfig,
        extra_toml: &str,
        tweak: impl FnOnce(&mut GatewayConfig),
        own_database: Option<String>,
        own_nats: Option<(String, Option<NatsUsers>)>,
    ) -> Self {
        let (nats_url, nats_users) = own_nats.unwrap_or_else(|| (nats_url(), None));
        tollgate_runtime::install_crypto_provider();
        let owns_database = own_database.is_some();
        let database = own_database.unwrap_or_else(database_url);
        if std::env::var_os("RUST_LOG").is_some() {
            // Logs only: a test that traces installs its own exporter first.
            let env = std::env::vars().collect();
            if let Ok(mut config) = TelemetryConfig::from_env("tollgate-test", &env) {
                config.traces_endpoint = None;
                let _ = tollgate_runtime::telemetry::init(&config);
            }
        }
        let shutdown = CancellationToken::new();
        let mock = MockUpstream::bind(mock_config).expect("mock binds");
        let mock_url = format!("http://{}", mock.local_addr());
        let stats = mock.stats();
        let faults = mock.faults();
        let mut tasks = Vec::new();
        let token = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            mock.run(token.cancelled_owned()).await.expect("mock runs");
        }));

        let id = Uuid::now_v7().simple().to_string();
        let admin_token = format!("admin-{id}");
        let env = [
            ("TOLLGATE_ADMIN_TOKEN", admin_token.clone()),
            ("DATABASE_URL", database.clone()),
            ("NATS_URL", nats_url.clone()),
            ("TOLLGATE_STREAM", format!("TGTEST_{id}")),
            ("TOLLGATE_SUBJECT_PREFIX", format!("tgtest_{id}")),
            (
                "TOLLGATE_SPOOL_DIR",
                temp_path(&format!("tollgate-spool-{id}")),
            ),
            ("TOLLGATE_SECRETS_KEY", SECRETS_KEY.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(nats_credentials(nats_users.as_ref(), "gateway"))
        .collect();
        let toml = format!(
            "{}\n{}",
            gateway_toml(&mock_url),
            extra_toml.replace("{mock}", &mock_url)
        );
        let mut config =
            GatewayConfig::from_toml(&toml, "testkit", &env).expect("test config is valid");
        // Test streams clean themselves up even if a test dies before `stop`.
        config.nats.stream.max_age = Duration::from_secs(3600);
        config.nats.stream.duplicate_window = Duration::from_secs(600);
        tweak(&mut config);

        let operator = match &nats_users {
            Some(users) => users.access("operator"),
            None => process_nats_access(),
        };
        let nats = operator
            .apply(async_nats::ConnectOptions::new())
            .connect(&nats_url)
            .await
            .expect("NATS reachable");
        let js = jetstream::new(nats);
        let mut stack = Self {
            url: String::new(),
            admin_token,
            mock: stats,
            faults,
            mock_url,
            stream: config.nats.stream.name.clone(),
            subject_prefix: config.nats.stream.subject_prefix.clone(),
            config: config.clone(),
            database_url: database,
            owns_database,
            js,
            http: reqwest::Client::new(),
            shutdown,
            tasks,
            spool_dirs: Vec::new(),
            nats_url,
            nats_users,
        };
        stack.url = stack.start_gateway(config).await;
        stack
    }

    /// Starts one more gateway instance (same database and stream); returns its URL.
    ///
    /// A gateway started with the stack's own spool directory after the first one gets a
    /// directory of its own (two gateways cannot share a spool); another directory is kept.
    pub async fn start_gateway(&mut self, mut config: GatewayConfig) -> String {
        if !self.url.is_empty() && config.events.spool_dir == self.config.events.spool_dir {
            config.events.spool_dir =
                temp_path(&format!("tollgate-spool-{}", Uuid::now_v7().simple())).into();
        }
        self.spool_dirs.push(config.events.spool_dir.clone());
        let gateway = Gateway::bind(config).await.expect("gateway starts");
        let url = format!("http://{}", gateway.local_addr());
        let token = self.shutdown.clone();
        self.tasks.push(tokio::spawn(async move {
            gateway
                .run(token.cancelled_owned())
                .await
                .expect("gateway runs");
        }));
        url
    }

    /// The environment consumer `service` of this stack reads: its database, NATS (and NATS
    /// user), stream and subject prefix, plus `extra`.
    fn consumer_env(
        &self,
        service: &str,
        extra: &[(&str, &str)],
    ) -> std::collections::HashMap<String, String> {
        [
            ("DATABASE_URL", self.database_url.as_str()),
            ("NATS_URL", self.nats_url.as_str()),
            ("TOLLGATE_STREAM", self.stream.as_str()),
            ("TOLLGATE_SUBJECT_PREFIX", self.subject_prefix.as_str()),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain(nats_credentials(self.nats_users.as_ref(), service))
        .collect()
    }

    /// The ledger configuration for this stack's stream and database.
    pub fn ledger_config(&self) -> LedgerConfig {
        let env = self.consumer_env(
            "ledger",
            &[
                ("TOLLGATE_LEDGER_LISTEN", "127.0.0.1:0"),
                ("TOLLGATE_LEDGER_BATCH", "500"),
            ],
        );
        LedgerConfig::from_env(&env).expect("ledger config")
    }

    /// Starts a ledger the test may kill (abort) at any moment, like `kill -9`: its batch in
    /// flight is neither committed nor acked.
    pub async fn spawn_killable_ledger(&self, config: LedgerConfig) -> JoinHandle<()> {
        let ledger = Ledger::bind(config).await.expect("ledger starts");
        tokio::spawn(async move {
            let _ = ledger.run(std::future::pending()).await;
        })
    }

    /// Starts a ledger instance on this stack's stream; returns its `/metrics` URL.
    pub async fn start_ledger(&mut self) -> String {
        let ledger = Ledger::bind(self.ledger_config())
            .await
            .expect("ledger starts");
        let url = format!("http://{}/metrics", ledger.local_addr());
        let token = self.shutdown.clone();
        self.tasks.push(tokio::spawn(async move {
            ledger
                .run(token.cancelled_owned())
                .await
                .expect("ledger runs");
        }));
        url
    }

    /// Starts an analytics instance on this stack's stream; returns its `/metrics` URL.
    pub async fn start_analytics(&mut self) -> String {
        let env = self.consumer_env(
            "analytics",
            &[
                ("TOLLGATE_ANALYTICS_LISTEN", "127.0.0.1:0"),
                ("TOLLGATE_ANALYTICS_LINGER_MS", "10"),
            ],
        );
        let config = AnalyticsConfig::from_env(&env).expect("analytics config");
        let analytics = Analytics::bind(config).await.expect("analytics starts");
        let url = format!("http://{}/metrics", analytics.local_addr());
        let token = self.shutdown.clone();
        self.tasks.push(tokio::spawn(async move {
            analytics
                .run(token.cancelled_owned())
                .await
                .expect("analytics runs");
        }));
        url
    }

    /// The alerting configuration for this stack (webhook retries after 100 ms, doubling, and
    /// window rules re-evaluated every 200 ms).
    pub fn alerting_config(&self) -> AlertingConfig {
        let env = self.consumer_env(
            "alerting",
            &[
                ("TOLLGATE_ALERTING_LISTEN", "127.0.0.1:0"),
                ("TOLLGATE_ALERTING_EVALUATE_MS", "200"),
                ("TOLLGATE_WEBHOOK_FIRST_RETRY_MS", "100"),
                ("TOLLGATE_WEBHOOK_TIMEOUT_SECS", "2"),
                ("TOLLGATE_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
                ("TOLLGATE_SECRETS_KEY", SECRETS_KEY),
            ],
        );
        AlertingConfig::from_env(&env).expect("alerting config")
    }

    /// Starts an alerting instance the test stops itself (cancel the token, await the handle);
    /// returns its `/metrics` URL too.
    pub async fn spawn_alerting(&self) -> (String, CancellationToken, JoinHandle<()>) {
        self.spawn_alerting_with(self.alerting_config()).await
    }

    /// [`Stack::spawn_alerting`] on `config` (this stack's, changed by the test).
    pub async fn spawn_alerting_with(
        &self,
        config: AlertingConfig,
    ) -> (String, CancellationToken, JoinHandle<()>) {
        let alerting = Alerting::bind(config).await.expect("alerting starts");
        let url = format!("http://{}/metrics", alerting.local_addr());
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            alerting
                .run(token.cancelled_owned())
                .await
                .expect("alerting runs");
        });
        (url, stop, task)
    }

    /// Starts a gateway on `config` that the test stops itself (gracefully, by cancelling the
    /// token); returns its URL. Its spool directory is the config's, and is not removed.
    pub async fn spawn_gateway(
        &self,
        config: GatewayConfig,
    ) -> (String, CancellationToken, JoinHandle<()>) {
        let gateway = Gateway::bind(config).await.expect("gateway starts");
        let url = format!("http://{}", gateway.local_addr());
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            gateway
                .run(token.cancelled_owned())
                .await
                .expect("gateway runs");
        });
        (url, stop, task)
    }

    /// Grants credit through the management API; returns the event id.
    pub async fn credit(&self, tenant_id: Uuid, amount: &str, idempotency_key: &str) -> String {
        let response = self
            .admin(
                reqwest::Method::POST,
                &format!("/api/v1/tenants/{tenant_id}/credits"),
            )
            .json(&json!({"amount_usd": amount, "idempotency_key": idempotency_key}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "credit refused");
        let body: Value = response.json().await.unwrap();
        body["event_id"].as_str().unwrap().to_owned()
    }

    /// The tenant's balance as the operator reads it.
    pub async fn balance(&self, tenant_id: Uuid) -> Value {
        self.admin_get(&format!("/api/v1/tenants/{tenant_id}/balance"))
            .await
    }

    /// The tenant's ledger page (newest first, up to 1,000 lines) as the operator reads it.
    pub async fn ledger_page(&self, tenant_id: Uuid) -> Value {
        self.admin_get(&format!("/api/v1/tenants/{tenant_id}/ledger?limit=1000"))
            .await
    }

    /// Waits until the ledger has booked `entries` entries for the tenant; returns the balance.
    pub async fn wait_for_entries(&self, tenant_id: Uuid, entries: usize) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let page = self.ledger_page(tenant_id).await;
            let booked = page["data"].as_array().map_or(0, Vec::len);
            if booked >= entries {
                return self.balance(tenant_id).await;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "ledger booked {booked} of {entries} entries: {page}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Shuts the services down gracefully (in-flight requests finish, events drain) and waits
    /// for them; the stream stays readable.
    pub async fn shutdown_services(&mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            task.await.expect("service shut down cleanly");
        }
    }

    /// Stops everything (draining events) and deletes the stream.
    pub async fn stop(mut self) {
        self.shutdown_services().await;
        let _ = self.js.delete_stream(&self.stream).await;
        let _ = self
            .js
            .delete_stream(tollgate_events::DeadLetters::stream_name(
                &self.config.nats.stream,
            ))
            .await;
        for dir in &self.spool_dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(tollgate_gateway::config::CacheSettings {
            store: tollgate_gateway::config::CacheStoreConfig::Edge { dir },
            ..
        }) = &self.config.cache
        {
            let _ = std::fs::remove_dir_all(dir);
        }
        if self.owns_database {
            drop_database(&self.database_url).await;
        }
    }

    /// An admin request builder.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token)
    }

    /// Creates a tenant and a key (with `key_options` merged into the key body).
    pub async fn tenant_with_key(&self, key_options: Value) -> TenantKey {
        let tenant: Value = self
            .admin(reqwest::Method::POST, "/api/v1/tenants")
            .json(&json!({"name": "test tenant"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tenant_id: Uuid = tenant["id"].as_str().unwrap().parse().unwrap();
        let mut body = json!({"name": "test key"});
        if let (Some(body), Some(options)) = (body.as_object_mut(), key_options.as_object()) {
            body.extend(options.clone());
        }
        let key = self.create_key(tenant_id, &body).await;
        TenantKey {
            tenant_id,
            key_id: key["id"].as_str().unwrap().parse().unwrap(),
            key: key["key"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a key of `tenant_id` with `body` (`{"name", ...}`); the answer (201 asserted),
    /// whose `key` is the secret.
    pub async fn create_key(&self, tenant_id: Uuid, body: &Value) -> Value {
        let response = self
            .admin(
                reqwest::Method::POST,
                &format!("/api/v1/tenants/{tenant_id}/keys"),
            )
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "key creation failed");
        response.json().await.unwrap()
    }

    /// `GET path` with the operator's token, as JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A tenant with one key and $100 of credit, booked by the ledger before this returns (so
    /// admission control lets its requests through).
    pub async fn funded_tenant(&self, key_options: Value) -> TenantKey {
        let tenant = self.tenant_with_key(key_options).await;
        self.credit(tenant.tenant_id, "100", "testkit-funding")
            .await;
        self.wait_for_entries(tenant.tenant_id, 1).await;
        tenant
    }

    /// Publishes `event` on this stack's stream as a gateway would (waiting for the ack), for
    /// what a test cannot make through HTTP, such as a charge dated days ago.
    pub async fn publish_event(&self, event: &Event) {
        let subject =
            tollgate_events::subject_for(&self.subject_prefix, event.tenant_id, event.body.kind());
        let payload = event.encode().expect("an event encodes");
        self.js
            .publish(subject, payload.into())
            .await
            .expect("publish")
            .await
            .expect("publish ack");
    }

    /// The gateway's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.metrics_at(&self.url).await
    }

    /// The `/metrics` text of the service at `url` (a gateway the test started itself).
    pub async fn metrics_at(&self, url: &str) -> String {
        self.http
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until the gateway has stored `count` answers in its cache (stores run in the
    /// background after the response).
    pub async fn wait_cache_stores(&self, count: u64) {
        self.wait_cache_stores_at(&self.url, count).await;
    }

    /// [`Stack::wait_cache_stores`] for the gateway at `url` (one started by the test itself).
    pub async fn wait_cache_stores_at(&self, url: &str, count: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let metrics = self.metrics_at(url).await;
            let stored: u64 = metrics
                .lines()
                .find(|l| l.starts_with("tollgate_cache_stores_total{outcome=\"ok\"}"))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if stored >= count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} cache stores, found {stored}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs a chat completion with `key`.
    pub async fn chat(&self, key: &str, body: &Value) -> reqwest::Response {
        self.chat_at(&self.url, key, body).await
    }

    /// POSTs a chat completion with `key` to the gateway at `url`.
    pub async fn chat_at(&self, url: &str, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Every event of `tenant_id` in this stack's stream, in stream order.
    pub async fn events(&self, tenant_id: Uuid) -> Vec<Event> {
        let stream = self.js.get_stream(&self.stream).await.unwrap();
        let info = stream.get_info().await.unwrap();
        let wanted = format!("{}.v1.{tenant_id}.", self.subject_prefix);
        let mut events = Vec::new();
        if info.state.messages == 0 {
            return events;
        }
        for seq in info.state.first_sequence..=info.state.last_sequence {
            let Ok(message) = stream.get_raw_message(seq).await else {
                continue;
            };
            if message.subject.as_str().starts_with(&wanted) {
                let event = Event::decode(&message.payload)
                    .unwrap()
                    .expect("known kind");
                let msg_id = message
                    .headers
                    .get("Nats-Msg-Id")
                    .map(|v| v.as_str().to_owned());
                assert_eq!(
                    msg_id,
                    Some(event.event_id.to_string()),
                    "Nats-Msg-Id = event_id"
                );
                events.push(event);
            }
        }
        events
    }

    /// Waits until the tenant has at least `count` usage events, then waits `settle` more and
    /// returns all of them (so a test can assert there is no extra one).
    pub async fn usage_events(&self, tenant_id: Uuid, count: usize) -> Vec<UsageRecorded> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found = usage_only(self.events(tenant_id).await);
            if found.len() >= count {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} usage events, found {}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        usage_only(self.events(tenant_id).await)
    }
}

fn usage_only(events: Vec<Event>) -> Vec<UsageRecorded> {
    events
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::UsageRecorded(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// A successful `usage.recorded` event of `cost` USD (10 prompt + 5 completion tokens), for
/// tests and benchmarks that feed the stream directly.
pub fn usage_event(tenant_id: Uuid, api_key_id: Uuid, cost: rust_decimal::Decimal) -> Event {
    Event::new(
        tenant_id,
        EventBody::UsageRecorded(UsageRecorded {
            request_id: Uuid::now_v7().to_string(),
            api_key_id,
            endpoint: "/v1/chat/completions".into(),
            model_requested: "demo-small".into(),
            model_served: "mock-small".into(),
            provider: "mock".into(),
            attempts: 1,
            attempt_log: Vec::new(),
            deployment: "mock-small".into(),
            outcome: tollgate_events::UsageOutcome::Success,
            http_status: 200,
            error_code: None,
            stream: false,
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 0,
            usage_source: tollgate_events::UsageSource::Upstream,
            cache: "miss".into(),
            cache_hit: None,
            cost_usd: cost,
            price_version: "test".into(),
            latency_us: 900,
            upstream_latency_us: 800,
            ttft_us: None,
        }),
    )
}

/// The SSE `data:` payloads of a streamed body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(str::to_owned)
        .collect()
}
