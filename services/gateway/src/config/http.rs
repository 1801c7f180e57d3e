//! `[http]`: how long the server waits on clients, and how many connections it holds.

use std::time::Duration;

use serde::Deserialize;

use super::base::{ConfigError, Env};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    request_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    disconnect_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
}

/// The validated `[http]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time a client has to send its whole request head once connected (or once the previous
    /// request on the connection ended); then it is answered 408 and disconnected. Slowloris
    /// clients are cut off by this.
    pub request_timeout: Duration,
    /// How long an idle keep-alive connection is kept open.
    pub idle_timeout: Duration,
    /// How long a closing connection may take to shut down before it is dropped.
    pub disconnect_timeout: Duration,
    /// Most connections the gateway holds open at once (split evenly across its workers);
    /// beyond it, new connections wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            disconnect_timeout: Duration::from_secs(1),
            max_connections: 25_000,
        }
    }
}

impl HttpSettings {
    /// The per-worker connection cap (at least 1) for `workers` workers.
    pub fn max_connections_per_worker(&self, workers: usize) -> usize {
        self.max_connections.div_ceil(workers.max(1)).max(1)
    }
}

fn millis(
    env: &Env,
    var: &str,
    raw: Option<u64>,
    default: Duration,
    src: &str,
    key: &str,
) -> Result<Duration, ConfigError> {
    let ms = match env.get(var) {
        Some(text) => text
            .parse()
            .map_err(|_| ConfigError::new(src, var, "not a number of milliseconds"))?,
        None => match raw {
            Some(ms) => ms,
            None => return Ok(default),
        },
    };
    if ms == 0 {
        return Err(ConfigError::new(src, key, "must be at least 1 ms"));
    }
    Ok(Duration::from_millis(ms))
}

pub(super) fn normalize_http(
    raw: RawHttp,
    src: &str,
    env: &Env,
) -> Result<HttpSettings, ConfigError> {
    let defaults = HttpSettings::default();
    let max_connections = match env.get("TOLLGATE_MAX_CONNECTIONS") {
        Some(text) => text
            .parse()
            .map_err(|_| ConfigError::new(src, "TOLLGATE_MAX_CONNECTIONS", "not a number"))?,
        None => raw.max_connections.unwrap_or(defaults.max_connections),
    };
    if max_connections == 0 {
        return Err(ConfigError::new(
            src,
            "http.max_connections",
            "must be at least 1",
        ));
    }
    Ok(HttpSettings {
        request_timeout: millis(
            env,
            "TOLLGATE_REQUEST_TIMEOUT_MS",
            raw.request_timeout_ms,
            defaults.request_timeout,
            src,
            "http.request_timeout_ms",
        )?,
        idle_timeout: millis(
            env,
            "TOLLGATE_IDLE_TIMEOUT_MS",
            raw.idle_timeout_ms,
            defaults.idle_timeout,
            src,
            "http.idle_timeout_ms",
        )?,
        disconnect_timeout: millis(
            env,
            "TOLLGATE_DISCONNECT_TIMEOUT_MS",
            raw.disconnect_timeout_ms,
            defaults.disconnect_timeout,
            src,
            "http.disconnect_timeout_ms",
        )?,
        max_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_actix_and_zero_is_refused() {
        let env = Env::new();
        let settings = normalize_http(RawHttp::default(), "t", &env).unwrap();
        assert_eq!(settings, HttpSettings::default());
        let zero = RawHttp {
            idle_timeout_ms: Some(0),
            ..RawHttp::default()
        };
        assert!(normalize_http(zero, "t", &env).is_err());
        let none = RawHttp {
            max_connections: Some(0),
            ..RawHttp::default()
        };
        assert!(normalize_http(none, "t", &env).is_err());
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut env = Env::new();
        env.insert("TOLLGATE_REQUEST_TIMEOUT_MS".into(), "750".into());
        env.insert("TOLLGATE_MAX_CONNECTIONS".into(), "9".into());
        let raw = RawHttp {
            request_timeout_ms: Some(3000),
            idle_timeout_ms: Some(2000),
            ..RawHttp::default()
        };
        let settings = normalize_http(raw, "t", &env).unwrap();
        assert_eq!(settings.request_timeout, Duration::from_millis(750));
        assert_eq!(settings.idle_timeout, Duration::from_millis(2000));
        assert_eq!(settings.max_connections, 9);
        assert_eq!(settings.max_connections_per_worker(2), 5);
        assert_eq!(settings.max_connections_per_worker(16), 1);
    }
}
