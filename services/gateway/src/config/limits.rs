//! `[limits]`: the rate limits of keys and tenants that set none of their own.

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
}

/// The validated `[limits]` section: `[limits.key]` and `[limits.tenant]`, each with `rpm`,
/// `tpm` and `max_concurrent` (absent: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitDefaults {
    /// What a key without its own limits gets.
    pub key: LimitSettings,
    /// What a tenant without its own limits gets.
    pub tenant: LimitSettings,
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
    Ok(LimitDefaults {
        key: holder(raw.key, "key")?,
        tenant: holder(raw.tenant, "tenant")?,
    })
}
