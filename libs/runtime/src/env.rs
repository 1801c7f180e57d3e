//! One reader for a service's settings in its environment: every service names, defaults and
//! refuses its variables the same way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;

use thiserror::Error;

/// A refused setting: which service, which variable, and why.
#[derive(Debug, Error)]
#[error("{service} config: {key}: {reason}")]
pub struct ConfigError {
    /// The service reading it.
    pub service: &'static str,
    /// The variable.
    pub key: String,
    /// What is wrong with its value.
    pub reason: String,
}

/// A service's view of an environment (a map, so tests can pass their own).
#[derive(Clone, Copy)]
pub struct EnvReader<'a> {
    env: &'a HashMap<String, String>,
    service: &'static str,
}

impl<'a> EnvReader<'a> {
    /// Reads `env` for `service` (named in every refusal).
    pub fn new(service: &'static str, env: &'a HashMap<String, String>) -> Self {
        Self { env, service }
    }

    /// The whole environment (for readers in other crates that take the map).
    pub fn map(&self) -> &'a HashMap<String, String> {
        self.env
    }

    /// A refusal of `key`.
    pub fn refuse(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            service: self.service,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `key`'s value, if set.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.env.get(key).map(String::as_str)
    }

    /// `key`'s value, else `default`.
    pub fn or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_owned()
    }

    /// `key`'s value; refused when unset.
    pub fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.get(key)
            .map(str::to_owned)
            .ok_or_else(|| self.refuse(key, "missing"))
    }

    /// `key` parsed as a number, else `default`.
    pub fn number<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.get(key) {
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| self.refuse(key, "not a number")),
            None => Ok(default),
        }
    }

    /// `key` as a number within `range`, else `default`.
    pub fn number_in(
        &self,
        key: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let value = self.number(key, default)?;
        if !range.contains(&value) {
            return Err(self.refuse(
                key,
                format!("must be within {}..={}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    /// `key` as a number of at least 1, else `default`.
    pub fn positive(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.number(key, default)? {
            0 => Err(self.refuse(key, "must be at least 1")),
            value => Ok(value),
        }
    }

    /// `key` as a socket address, else `default`.
    pub fn socket(&self, key: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        self.get(key)
            .unwrap_or(default)
            .parse()
            .map_err(|_| self.refuse(key, "not a socket address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_defaulted_and_refused_by_name() {
        let env: HashMap<String, String> = [("A", "7"), ("B", "x"), ("C", "0"), ("L", "nope")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let reader = EnvReader::new("demo", &env);
        assert_eq!(reader.number("A", 1u64).unwrap(), 7);
        assert_eq!(reader.number("MISSING", 3u64).unwrap(), 3);
        let refused = reader.number("B", 1u64).unwrap_err();
        assert_eq!(refused.to_string(), "demo config: B: not a number");
        assert!(reader.number_in("C", 5, 1..=10).is_err());
        assert_eq!(
            reader.positive("C", 5).unwrap_err().reason,
            "must be at least 1"
        );
        assert_eq!(reader.positive("A", 5).unwrap(), 7);
        assert_eq!(reader.number_in("MISSING", 5, 1..=10).unwrap(), 5);
        assert!(reader.socket("L", "127.0.0.1:1").is_err());
        assert_eq!(reader.socket("MISSING", "127.0.0.1:1").unwrap().port(), 1);
        assert!(reader.required("MISSING").is_err());
        assert_eq!(reader.or("MISSING", "d"), "d");
    }
}
