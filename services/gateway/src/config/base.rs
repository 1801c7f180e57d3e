//! What every part of the configuration shares: the error, the environment, secrets and
//! providers.

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;
use tollgate_providers::ProviderKind;

/// Why a configuration was refused.
#[derive(Debug, Error)]
#[error("config {source_name}: {key}: {reason}")]
pub struct ConfigError {
    source_name: String,
    key: String,
    reason: String,
}

impl ConfigError {
    pub(super) fn new(
        source_name: &str,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            source_name: source_name.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// A secret from config: readable with [`Secret::expose`], never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An upstream provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Config name, reported as `x-tollgate-provider`.
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// API version (Azure's `api-version`).
    pub api_version: Option<String>,
    /// Base URL including the version path, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer key sent upstream (never the tenant's key).
    pub api_key: Option<Secret>,
    /// Longest wait for a non-streamed answer, and for each chunk of a stream.
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
}

/// Environment the config reads (a map, so tests can pass their own).
pub type Env = HashMap<String, String>;

/// The environment's `key` if set, else `value`.
pub(super) fn env_or(env: &Env, key: &str, value: Option<String>) -> Option<String> {
    env.get(key).cloned().or(value)
}

/// Whether a `load_*` setting (`on_demand`, the default, or `at_start`) asks for loading before
/// serving; the environment's `key` wins over `value`. The error is the reason, for the caller
/// to name its setting.
pub(super) fn loads_at_start(
    env: &Env,
    key: &str,
    value: Option<String>,
) -> Result<bool, &'static str> {
    match env_or(env, key, value).as_deref() {
        None | Some("on_demand") => Ok(false),
        Some("at_start") => Ok(true),
        Some(_) => Err("must be \"on_demand\" or \"at_start\""),
    }
}
