//! Gateway configuration: a TOML file plus environment overrides, parsed once and validated
//! into [`GatewayConfig`]. A bad config fails at start with the file, key and reason.

mod base;
mod cache;
mod events;
mod http;
mod limits;
mod routes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use tollgate_billing::PriceBook;
use tollgate_providers::ProviderKind;

pub use base::{ConfigError, Env, ProviderConfig, Secret};
use base::{env_or, loads_at_start};
pub use cache::{CacheSettings, CacheStoreConfig};
pub use events::{Durability, EventsSettings};
pub use http::HttpSettings;
pub use limits::LimitDefaults;
pub use routes::{DeploymentConfig, RouteConfig, RoutingConfig};
use routes::{RawModel, RawRouting, RawTenantRoute};

/// The file as written (every field optional where a default exists).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    workers: Option<usize>,
    admin_token: Option<String>,
    database_url: Option<String>,
    max_body_bytes: Option<usize>,
    max_upstream_body_bytes: Option<usize>,
    max_credit_usd: Option<Decimal>,
    default_max_tokens: Option<u32>,
    load_tokenizers: Option<String>,
    #[serde(default)]
    nats: RawNats,
    #[serde(default)]
    providers: Vec<RawProvider>,
    #[serde(default)]
    models: Vec<RawModel>,
    #[serde(default)]
    routing: RawRouting,
    #[serde(default)]
    tenant_routes: Vec<RawTenantRoute>,
    cache: Option<cache::RawCache>,
    #[serde(default)]
    events: events::RawEvents,
    #[serde(default)]
    http: http::RawHttp,
    #[serde(default)]
    limits: limits::RawLimits,
    /// Address ranges alert webhooks may reach besides public addresses.
    #[serde(default)]
    webhook_allow_cidrs: Vec<String>,
    console_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNats {
    url: Option<String>,
    replicas: Option<usize>,
    stream: Option<String>,
    subject_prefix: Option<String>,
    duplicate_window_secs: Option<u64>,
    publish_queue: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    #[serde(default = "openai_kind")]
    kind: String,
    base_url: String,
    api_key: Option<String>,
    api_key_env: Option<String>,
    api_version: Option<String>,
    timeout_secs: Option<u64>,
    connect_timeout_ms: Option<u64>,
}

fn openai_kind() -> String {
    "openai".into()
}

/// NATS settings.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// Server URLs of one cluster, comma-separated; the gateway connects to any and fails over.
    pub url: String,
    /// Credentials and TLS (`NATS_USER`, `NATS_PASSWORD`, `NATS_TLS_*`).
    pub access: tollgate_events::NatsAccess,
    /// Stream and subjects.
    pub stream: tollgate_events::StreamSettings,
    /// Publisher queue size.
    pub publish_queue: usize,
}

/// The validated runtime configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Listen address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// actix worker threads.
    pub workers: usize,
    /// Token of the platform operator for `/api/v1`.
    pub admin_token: Secret,
    /// Postgres URL (may hold a password).
    pub database_url: Secret,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest non-streamed upstream answer read (a clear 502 beyond it); an upstream error
    /// body is read up to 64 KiB and cut there.
    pub max_upstream_body_bytes: usize,
    /// Largest single credit grant.
    pub max_credit_usd: Decimal,
    /// Output tokens assumed for admission when a request sets no `max_tokens`.
    pub default_max_tokens: u32,
    /// Build the routes' tokenizers before serving (`load_tokenizers = "at_start"`) instead of
    /// when a request first needs one (about 40 MiB and 84 ms for `o200k_base`).
    pub tokenizers_at_start: bool,
    /// NATS settings.
    pub nats: NatsConfig,
    /// Upstream providers.
    pub providers: Vec<ProviderConfig>,
    /// Routes (logical models) and their deployments.
    pub routes: Vec<RouteConfig>,
    /// Breakers, latency tracking, tenant overrides.
    pub routing: RoutingConfig,
    /// Prices by deployment name.
    pub prices: PriceBook,
    /// The response cache; `None`: nothing is cached.
    pub cache: Option<CacheSettings>,
    /// Durability of usage events and the spool.
    pub events: EventsSettings,
    /// Client timeouts and the connection cap.
    pub http: HttpSettings,
    /// Rate limits new keys and tenants get, and the caps on cheap abuse.
    pub limits: LimitDefaults,
    /// Where alert webhooks may lead (public addresses, and the ranges the operator allows).
    pub webhook_egress: tollgate_runtime::egress::EgressPolicy,
    /// Seals webhook secrets before they are stored (`TOLLGATE_SECRETS_KEY`).
    pub secrets: tollgate_runtime::sealed::Sealer,
    /// The built web console (`console/dist`: `index.html`, its assets and `docs/`), served at
    /// `/console` and `/docs` (`console_dir`, `TOLLGATE_CONSOLE_DIR`); `None`: not served.
    pub console_dir: Option<PathBuf>,
}

impl GatewayConfig {
    /// Reads `path` (TOML), applies environment overrides and validates.
    pub fn load(path: &Path, env: &Env) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&name, "(file)", e.to_string()))?;
        Self::from_toml(&text, &name, env)
    }

    /// Parses TOML text (named `source_name` in errors), applies overrides and validates.
    pub fn from_toml(text: &str, source_name: &str, env: &Env) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .map_or_else(String::new, |s| format!("at byte {}", s.start));
            ConfigError::new(source_name, key, e.message().to_owned())
        })?;
        normalize(raw, source_name, env)
    }
}

/// `TOLLGATE_PROVIDER_<NAME>_<FIELD>` with the name upper-cased and `-` as `_`.
fn provider_env_key(provider: &str, field: &str) -> String {
    format!(
        "TOLLGATE_PROVIDER_{}_{field}",
        provider.to_ascii_uppercase().replace('-', "_")
    )
}

fn normalize(raw: RawConfig, src: &str, env: &Env) -> Result<GatewayConfig, ConfigError> {
    let listen_text =
        env_or(env, "TOLLGATE_LISTEN", raw.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text
        .parse()
        .map_err(|e| ConfigError::new(src, "listen", format!("'{listen_text}': {e}")))?;
    let workers = match env.get("TOLLGATE_WORKERS") {
        Some(w) => w
            .parse()
            .map_err(|_| ConfigError::new(src, "TOLLGATE_WORKERS", "not a number"))?,
        None => raw.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        }),
    };
    if workers == 0 {
        return Err(ConfigError::new(src, "workers", "must be at least 1"));
    }
    let admin_token = env_or(env, "TOLLGATE_ADMIN_TOKEN", raw.admin_token).ok_or_else(|| {
        ConfigError::new(src, "admin_token", "missing (or set TOLLGATE_ADMIN_TOKEN)")
    })?;
    if admin_token.len() < 16 {
        return Err(ConfigError::new(
            src,
            "admin_token",
            "must be at least 16 characters",
        ));
    }
    weak_token(&admin_token).map_or(Ok(()), |why| {
        Err(ConfigError::new(
            src,
            "admin_token",
            format!("{why}; make one with `openssl rand -hex 24`"),
        ))
    })?;
    let database_url = env_or(env, "DATABASE_URL", raw.database_url)
        .ok_or_else(|| ConfigError::new(src, "database_url", "missing (or set DATABASE_URL)"))?;
    let max_body_bytes = raw.max_body_bytes.unwrap_or(4 * 1024 * 1024);
    if max_body_bytes < 1024 {
        return Err(ConfigError::new(
            src,
            "max_body_bytes",
            "must be at least 1024",
        ));
    }
    let max_upstream_body_bytes = raw.max_upstream_body_bytes.unwrap_or(32 * 1024 * 1024);
    if max_upstream_body_bytes < 1024 {
        return Err(ConfigError::new(
            src,
            "max_upstream_body_bytes",
            "must be at least 1024",
        ));
    }
    let max_credit_usd = raw.max_credit_usd.unwrap_or(Decimal::from(1_000_000));
    if max_credit_usd <= Decimal::ZERO {
        return Err(ConfigError::new(src, "max_credit_usd", "must be positive"));
    }

    let tokenizers_at_start = loads_at_start(env, "TOLLGATE_LOAD_TOKENIZERS", raw.load_tokenizers)
        .map_err(|why| ConfigError::new(src, "load_tokenizers", why))?;
    let nats = normalize_nats(raw.nats, src, env)?;
    let providers = raw
        .providers
        .into_iter()
        .map(|p| normalize_provider(p, src, env))
        .collect::<Result<Vec<_>, _>>()?;
    let (routing, tiers) = routes::normalize_routing(raw.routing, raw.tenant_routes, src)?;
    let (routes, prices) = routes::normalize_routes(raw.models, &providers, &tiers, src, env)?;
    check_names(&routes, &routing, src)?;
    let cache = cache::normalize_cache(raw.cache, src, env)?;
    let events = events::normalize_events(raw.events, src, env)?;
    let http = http::normalize_http(raw.http, src, env)?;
    let limits = limits::normalize_limits(raw.limits, src, env)?;
    let allow = env_or(
        env,
        "TOLLGATE_WEBHOOK_ALLOW_CIDRS",
        Some(raw.webhook_allow_cidrs.join(",")),
    )
    .unwrap_or_default();
    let webhook_egress = tollgate_runtime::egress::EgressPolicy::parse(&allow)
        .map_err(|e| ConfigError::new(src, "webhook_allow_cidrs", e))?;
    let secrets = tollgate_runtime::sealed::Sealer::new(
        env.get("TOLLGATE_SECRETS_KEY").map(String::as_str),
        env.get("TOLLGATE_SECRETS_OLD_KEYS").map(String::as_str),
    )
    .map_err(|e| ConfigError::new(src, "TOLLGATE_SECRETS_KEY", e))?;

    Ok(GatewayConfig {
        listen,
        workers,
        admin_token: Secret::new(admin_token),
        database_url: Secret::new(database_url),
        max_body_bytes,
        max_upstream_body_bytes,
        max_credit_usd,
        default_max_tokens: raw.default_max_tokens.unwrap_or(1024).max(1),
        tokenizers_at_start,
        nats,
        providers,
        routes,
        routing,
        prices,
        cache,
        events,
        http,
        limits,
        webhook_egress,
        secrets,
        console_dir: env_or(env, "TOLLGATE_CONSOLE_DIR", raw.console_dir).map(PathBuf::from),
    })
}

/// Why an admin token is not one, if it is not: a known placeholder, or too little entropy
/// (under 48 bits by the Shannon estimate of its characters: repeats, short words; random
/// tokens of 16 hex or base64 characters pass).
fn weak_token(token: &str) -> Option<String> {
    const PLACEHOLDERS: [&str; 11] = [
        "change-me",
        "changeme",
        "change_me",
        "replace-me",
        "replaceme",
        "placeholder",
        "your-token",
        "your_token",
        "xxxxxxxx",
        "password",
        "example",
    ];
    let lower = token.to_ascii_lowercase();
    if let Some(placeholder) = PLACEHOLDERS.iter().find(|p| lower.contains(*p)) {
        return Some(format!("looks like a placeholder ('{placeholder}')"));
    }
    let mut counts = std::collections::HashMap::new();
    for c in token.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let length = token.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|n| {
            let p = *n as f64 / length;
            -p * p.log2()
        })
        .sum();
    let bits = per_char * length;
    (bits < 48.0).then(|| format!("has too little entropy (about {bits:.0} bits, 48 needed)"))
}

fn normalize_nats(raw: RawNats, src: &str, env: &Env) -> Result<NatsConfig, ConfigError> {
    let defaults = tollgate_events::StreamSettings::default();
    let name = env_or(env, "TOLLGATE_STREAM", raw.stream).unwrap_or(defaults.name.clone());
    let prefix = env_or(env, "TOLLGATE_SUBJECT_PREFIX", raw.subject_prefix)
        .unwrap_or(defaults.subject_prefix.clone());
    let token_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !token_ok(&name) {
        return Err(ConfigError::new(
            src,
            "nats.stream",
            "letters, digits, '_' and '-' only",
        ));
    }
    if !token_ok(&prefix) {
        return Err(ConfigError::new(
            src,
            "nats.subject_prefix",
            "one subject token: letters, digits, '_' and '-'",
        ));
    }
    let duplicate_window = raw
        .duplicate_window_secs
        .map_or(defaults.duplicate_window, Duration::from_secs);
    let url = env
        .get("NATS_URLS")
        .or_else(|| env.get("NATS_URL"))
        .cloned()
        .or(raw.url)
        .unwrap_or_else(|| tollgate_events::DEFAULT_NATS_URL.into());
    tollgate_events::server_addrs(&url)
        .map_err(|e| ConfigError::new(src, "nats.url", e.to_string()))?;
    let replicas = match env.get("TOLLGATE_STREAM_REPLICAS") {
        Some(v) => tollgate_events::parse_replicas(v),
        None => tollgate_events::check_replicas(raw.replicas.unwrap_or(1)),
    }
    .map_err(|e| ConfigError::new(src, "nats.replicas", e))?;
    let access = tollgate_events::NatsAccess::from_env(env)
        .map_err(|e| ConfigError::new(src, e.key, e.reason))?;
    Ok(NatsConfig {
        url,
        access,
        stream: tollgate_events::StreamSettings {
            name,
            subject_prefix: prefix,
            duplicate_window,
            replicas,
            ..defaults
        },
        publish_queue: raw.publish_queue.unwrap_or(65_536).max(1),
    })
}

fn normalize_provider(
    raw: RawProvider,
    src: &str,
    env: &Env,
) -> Result<ProviderConfig, ConfigError> {
    let key = format!("providers.{}", raw.name);
    let kind = raw
        .kind
        .parse::<ProviderKind>()
        .map_err(|e| ConfigError::new(src, format!("{key}.kind"), e))?;
    let base_url = env
        .get(&provider_env_key(&raw.name, "BASE_URL"))
        .cloned()
        .unwrap_or(raw.base_url);
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError::new(
            src,
            format!("{key}.base_url"),
            "must start with http:// or https://",
        ));
    }
    let api_key = match (
        env.get(&provider_env_key(&raw.name, "API_KEY")),
        raw.api_key_env,
    ) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(var)) => Some(env.get(&var).cloned().ok_or_else(|| {
            ConfigError::new(
                src,
                format!("{key}.api_key_env"),
                format!("environment variable {var} is not set"),
            )
        })?),
        (None, None) => raw.api_key,
    };
    Ok(ProviderConfig {
        name: raw.name,
        kind,
        api_version: raw.api_version,
        base_url: base_url.trim_end_matches('/').to_owned(),
        api_key: api_key.map(Secret::new),
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(300)),
        connect_timeout: Duration::from_millis(raw.connect_timeout_ms.unwrap_or(2_000)),
    })
}

/// Route names and aliases are unique; tenant overrides point at routes that exist.
fn check_names(
    routes: &[RouteConfig],
    routing: &RoutingConfig,
    src: &str,
) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for route in routes {
        for name in std::iter::once(&route.name).chain(&route.aliases) {
            if !seen.insert(name.as_str()) {
                return Err(ConfigError::new(
                    src,
                    format!("models.{}", route.name),
                    format!("model name or alias '{name}' used twice"),
                ));
            }
        }
    }
    for ((tenant, model), target) in &routing.tenant_routes {
        if !routes.iter().any(|r| r.name == *target) {
            return Err(ConfigError::new(
                src,
                format!("tenant_routes.{tenant}.{model}.route"),
                format!("no model named '{target}'"),
            ));
        }
    }
    Ok(())
}

impl GatewayConfig {
    /// Whether clients may ask for `model` (a route name or alias).
    pub fn serves(&self, model: &str) -> bool {
        self.routes
            .iter()
            .any(|r| r.name == model || r.aliases.iter().any(|a| a == model))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholder_and_low_entropy_admin_tokens_are_refused() {
        for weak in [
            "CHANGE-ME-to-a-long-random-token",
            "changeme-changeme-changeme",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            "passwordpassword",
            "abababababababababababab",
        ] {
            assert!(super::weak_token(weak).is_some(), "{weak} accepted");
        }
        for strong in [
            "tga_yPm39LisnzRzQ8FB482HaU6kLJgnz-Agz_m",
            "3f9a6c1be07d24a58e6b19c0d7f3a2e4b5c6d7e8f9a0b1c2",
            "0123456789abcdef",
            "k9Zq2Lm8Xv4Rt1Wb",
            "9f3a7c1e5b2d8064",
        ] {
            assert!(super::weak_token(strong).is_none(), "{strong} refused");
        }
    }

    use super::*;

    const MINIMAL: &str = r#"
        admin_token = "0123456789abcdef"
        database_url = "postgres://localhost/x"
        [[providers]]
        name = "mock"
        base_url = "http://127.0.0.1:9/v1/"
        [[models]]
        name = "demo-small"
        provider = "mock"
        upstream_model = "mock-small"
        input_per_million = "0.15"
        output_per_million = "0.60"
    "#;

    #[test]
    fn parses_and_normalizes() -> Result<(), ConfigError> {
        let config = GatewayConfig::from_toml(MINIMAL, "test.toml", &Env::new())?;
        assert_eq!(config.providers[0].base_url, "http://127.0.0.1:9/v1");
        let route = &config.routes[0];
        assert_eq!(route.name, "demo-small");
        assert_eq!(route.deployments[0].upstream_model, "mock-small");
        assert_eq!(
            route.deployments[0].price.input_per_million.to_string(),
            "0.15"
        );
        assert_eq!(
            route.deployments[0]
                .price
                .cached_input_per_million
                .to_string(),
            "0.15",
            "cached input defaults to the input price"
        );
        assert_eq!(config.nats.stream.name, "TOLLGATE");
        Ok(())
    }

    const ROUTED: &str = r#"
        [[models.deployments]]
        name = "cheap"
        provider = "mock"
        upstream_model = "m1"
        tier = "free"
        input_per_million = "0.10"
        output_per_million = "0.20"
        [[models.deployments]]
        provider = "mock"
        upstream_model = "m2"
        weight = 3
        input_per_million = "1.00"
        output_per_million = "0.10"
        cached_input_per_million = "0.25"
        keys = [{ key = "k1", rpm = 10 }, { key_env = "K2" }]
    "#;

    fn routed(route_header: &str, extra: &str) -> Result<GatewayConfig, ConfigError> {
        let env: Env = [("K2".to_owned(), "secret-two".to_owned())]
            .into_iter()
            .collect();
        let text =
            format!("{MINIMAL}\n[[models]]\nname = \"routed\"\n{route_header}\n{ROUTED}\n{extra}");
        GatewayConfig::from_toml(&text, "gw.toml", &env)
    }

    #[test]
    fn routes_with_deployments_are_normalized() -> Result<(), ConfigError> {
        let config = routed(
            "aliases = [\"r\"]\nstrategy = \"cost\"\nmax_attempts = 5\ntimeout_ms = 9000",
            "",
        )?;
        let route = &config.routes[1];
        assert_eq!(route.strategy, tollgate_routing::Strategy::Cost);
        assert_eq!(route.retry.max_attempts, 5);
        assert_eq!(route.retry.deadline, Duration::from_millis(9000));
        assert_eq!(route.retry.attempt_timeout, Duration::from_millis(9000));
        assert_eq!(route.deployments[0].tier.name, "free");
        assert_eq!(route.deployments[1].name, "mock/m2", "default name");
        assert_eq!(
            route.deployments[1].tier.name, "official",
            "default tier is the last"
        );
        assert_eq!(route.deployments[1].keys[1].0.expose(), "secret-two");
        assert_eq!(route.deployments[1].keys[0].1.rpm, Some(10));
        // Admission reserves at the dearest price of each component.
        let price = route.admission_price();
        assert_eq!(price.input_per_million.to_string(), "1.00");
        assert_eq!(price.output_per_million.to_string(), "0.20");
        assert!(config.serves("r") && config.serves("routed") && !config.serves("x"));
        Ok(())
    }

    #[test]
    fn bad_routes_name_the_key() {
        let cases = [
            ("strategy = \"fastest\"", "", "models.routed.strategy"),
            ("aliases = [\"demo-small\"]", "", "used twice"),
            (
                "",
                "[routing]\ntiers = [\"paid\"]",
                "models.routed.deployments.cheap.tier",
            ),
            (
                "",
                "[[tenant_routes]]\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\nmodel = \"demo-small\"\nroute = \"nope\"",
                "tenant_routes",
            ),
            ("provider = \"mock\"", "", "not both"),
        ];
        for (header, extra, expected) in cases {
            let err = routed(header, extra)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{header} {extra}: {err}");
        }
    }

    #[test]
    fn tokenizers_load_on_demand_unless_told_at_start() -> Result<(), ConfigError> {
        let env = |value: &str| -> Env {
            [("TOLLGATE_LOAD_TOKENIZERS".to_owned(), value.to_owned())]
                .into_iter()
                .collect()
        };
        let config = GatewayConfig::from_toml(MINIMAL, "test.toml", &Env::new())?;
        assert!(!config.tokenizers_at_start);
        let at_start = format!("load_tokenizers = \"at_start\"\n{MINIMAL}");
        assert!(GatewayConfig::from_toml(&at_start, "test.toml", &Env::new())?.tokenizers_at_start);
        let config = GatewayConfig::from_toml(&at_start, "test.toml", &env("on_demand"))?;
        assert!(!config.tokenizers_at_start, "the environment wins");
        let err = GatewayConfig::from_toml(MINIMAL, "test.toml", &env("eager"))
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            err.as_ref().is_err_and(|e| e.contains("load_tokenizers")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn secrets_are_not_printed() -> Result<(), ConfigError> {
        let config = GatewayConfig::from_toml(MINIMAL, "test.toml", &Env::new())?;
        let printed = format!("{config:?}");
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
        assert!(!printed.contains("postgres://"), "{printed}");
        assert_eq!(config.admin_token.expose(), "0123456789abcdef");
        Ok(())
    }

    #[test]
    fn env_overrides_win() -> Result<(), ConfigError> {
        let env: Env = [
            ("TOLLGATE_PROVIDER_MOCK_BASE_URL", "http://10.0.0.1:1/v1"),
            ("NATS_URL", "nats://n:4222"),
            ("TOLLGATE_STREAM", "T1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = GatewayConfig::from_toml(MINIMAL, "test.toml", &env)?;
        assert_eq!(config.providers[0].base_url, "http://10.0.0.1:1/v1");
        assert_eq!(config.nats.url, "nats://n:4222");
        assert_eq!(config.nats.stream.name, "T1");
        Ok(())
    }

    #[test]
    fn the_cache_store_can_be_switched_to_a_server_from_the_environment() -> Result<(), ConfigError>
    {
        let toml = format!("{MINIMAL}\n[cache]\nstore = \"edge\"\n");
        let env: Env = [
            ("TOLLGATE_CACHE_STORE", "server"),
            ("QDRANT_URL", "http://qdrant:6334"),
            ("QDRANT_API_KEY", "qdrant-key-from-a-secret"),
            ("NATS_USER", "gateway"),
            ("NATS_PASSWORD", "nats-password-from-a-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = GatewayConfig::from_toml(&toml, "test.toml", &env)?;
        let store = config.cache.map(|c| c.store);
        assert_eq!(
            store,
            Some(CacheStoreConfig::Server {
                url: "http://qdrant:6334".into(),
                collection: "tollgate_cache".into(),
                api_key: Some(Secret::new("qdrant-key-from-a-secret")),
            })
        );
        assert_eq!(config.nats.access.user.as_deref(), Some("gateway"));
        let printed = format!("{:?}", config.nats);
        assert!(!printed.contains("from-a-secret"), "{printed}");
        Ok(())
    }

    #[test]
    fn nats_takes_a_server_list_and_replicas() -> Result<(), ConfigError> {
        let env: Env = [
            ("NATS_URLS", "nats://a:4222,nats://b:4223,nats://c:4224"),
            ("TOLLGATE_STREAM_REPLICAS", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = GatewayConfig::from_toml(MINIMAL, "test.toml", &env)?;
        assert_eq!(config.nats.url, "nats://a:4222,nats://b:4223,nats://c:4224");
        assert_eq!(config.nats.stream.replicas, 3);
        for (key, value) in [
            ("NATS_URLS", "nats://a:4222,,nats://b:4222"),
            ("NATS_URL", "http://a:4222"),
            ("TOLLGATE_STREAM_REPLICAS", "7"),
        ] {
            let env: Env = [(key.to_owned(), value.to_owned())].into_iter().collect();
            let err = GatewayConfig::from_toml(MINIMAL, "test.toml", &env)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("nats."), "{key}={value}: {err:?}");
        }
        Ok(())
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        let bad = MINIMAL.replace("provider = \"mock\"", "provider = \"nope\"");
        let err = GatewayConfig::from_toml(&bad, "gw.toml", &Env::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("gw.toml")
                && err.contains("models.demo-small.provider")
                && err.contains("nope"),
            "{err}"
        );

        let negative = MINIMAL.replace("\"0.15\"", "\"-1\"");
        assert!(GatewayConfig::from_toml(&negative, "gw.toml", &Env::new()).is_err());
        let too_precise = MINIMAL.replace("\"0.15\"", "\"0.00001\"");
        assert!(GatewayConfig::from_toml(&too_precise, "gw.toml", &Env::new()).is_err());

        let unknown = format!("{MINIMAL}\nsurprise = 1");
        let err = GatewayConfig::from_toml(&unknown, "gw.toml", &Env::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("surprise"), "{err}");
    }
}
