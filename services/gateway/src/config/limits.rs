//! `[limits]`: the rate limits a new key or tenant gets when its creation names none, and the
//! caps on cheap abuse.

use serde::Deserialize;

use super::base::{ConfigError, Env};
use crate::limits::LimitSettings;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default)]
    key: LimitSettings,
    #[serde(default)]
    tenant: LimitSettings,
    auth_failures_per_minute: Option<u32>,
    management_rpm: Option<u32>,
    max_keys_per_tenant: Option<u32>,
    max_alert_rules_per_tenant: Option<u32>,
}

/// The validated `[limits]` section: `[limits.key]` and `[limits.tenant]`, each with `rpm`,
/// `tpm` and `max_concurrent` (absent: unlimited), and the caps on cheap abuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDefaults {
    /// What a new key gets when its creation names no limits.
    pub key: LimitSettings,
    /// What a new tenant gets when its creation names no limits.
    pub tenant: LimitSettings,
    /// Failed authentications one source address may make per minute; beyond, its requests
    /// get 429 before any credential is looked up.
    pub auth_failures_per_minute: u32,
    /// Management requests per minute of one tenant's keys together (the operator is not
    /// limited).
    pub management_rpm: u32,
    /// Live keys one tenant may hold.
    pub max_keys_per_tenant: u32,
    /// Alert rules one tenant may hold.
    pub max_alert_rules_per_tenant: u32,
}

impl Default for LimitDefaults {
    fn default() -> Self {
        Self {
            key: LimitSettings::default(),
            tenant: LimitSettings::default(),
            auth_failures_per_minute: 600,
            management_rpm: 600,
            max_keys_per_tenant: 1_000,
            max_alert_rules_per_tenant: 100,
        }
    }
}

/// Validates `[limits]`; `TOLLGATE_LIMITS_{KEY,TENANT}_{RPM,TPM,MAX_CONCURRENT}` override it.
pub(super) fn normalize_limits(
    raw: RawLimits,
    src: &str,
    env: &Env,
) -> Result<LimitDefaults, ConfigError> {
    let holder = |settings: LimitSettings, name: &str| -> Result<LimitSettings, ConfigError> {
        let value = |field: &str, configured: Option<u32>| -> Result<Option<u32>, ConfigError> {
            let var = format!(
                "TOLLGATE_LIMITS_{}_{}",
                name.to_uppercase(),
                field.to_uppercase()
            );
            let key = format!("limits.{name}.{field}");
            let value = match env.get(&var) {
                Some(raw) => Some(
                    raw.trim()
                        .parse::<u32>()
                        .map_err(|_| ConfigError::new(src, &var, "not a whole number"))?,
                ),
                None => configured,
            };
            if value == Some(0) {
                return Err(ConfigError::new(
                    src,
                    key,
                    "must be at least 1 (leave it out for no limit)",
                ));
            }
            Ok(value)
        };
        Ok(LimitSettings {
            rpm: value("rpm", settings.rpm)?,
            tpm: value("tpm", settings.tpm)?,
            max_concurrent: value("max_concurrent", settings.max_concurrent)?,
        })
    };
    let defaults = LimitDefaults::default();
    let cap = |configured: Option<u32>, field: &str, default: u32| -> Result<u32, ConfigError> {
        match configured {
            Some(0) => Err(ConfigError::new(
                src,
                format!("limits.{field}"),
                "must be at least 1",
            )),
            Some(value) => Ok(value),
            None => Ok(default),
        }
    };
    Ok(LimitDefaults {
        key: holder(raw.key, "key")?,
        tenant: holder(raw.tenant, "tenant")?,
        auth_failures_per_minute: cap(
            raw.auth_failures_per_minute,
            "auth_failures_per_minute",
            defaults.auth_failures_per_minute,
        )?,
        management_rpm: cap(
            raw.management_rpm,
            "management_rpm",
            defaults.management_rpm,
        )?,
        max_keys_per_tenant: cap(
            raw.max_keys_per_tenant,
            "max_keys_per_tenant",
            defaults.max_keys_per_tenant,
        )?,
        max_alert_rules_per_tenant: cap(
            raw.max_alert_rules_per_tenant,
            "max_alert_rules_per_tenant",
            defaults.max_alert_rules_per_tenant,
        )?,
    })
}
