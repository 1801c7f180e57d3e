//! How a service proves who it is to NATS and secures the connection: `NATS_USER` /
//! `NATS_PASSWORD` (one user per service, with the permissions of
//! `deploy/nats/permissions.conf`) and TLS (`NATS_TLS_CA`, `NATS_TLS_CERT` + `NATS_TLS_KEY`,
//! `NATS_TLS_REQUIRED`). A service with a user takes its replies on the inbox prefix
//! `_INBOX_<user>`, the only inbox its permissions let it subscribe to, so no service reads
//! another's replies.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::servers::EnvError;

/// NATS credentials and TLS settings of one service.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NatsAccess {
    /// The NATS user (`NATS_USER`); none connects anonymously.
    pub user: Option<String>,
    password: Option<String>,
    /// CA certificate (PEM) the server's certificate must chain to (`NATS_TLS_CA`).
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS (`NATS_TLS_CERT`, `NATS_TLS_KEY`).
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Refuse a connection without TLS (`NATS_TLS_REQUIRED`, implied by `NATS_TLS_CA`).
    pub require_tls: bool,
}

impl std::fmt::Debug for NatsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsAccess")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls_ca", &self.tls_ca)
            .field("tls_client", &self.tls_client)
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

impl NatsAccess {
    /// Access as `user` with `password`, without TLS (tests, tools).
    pub fn with_user(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: Some(user.into()),
            password: Some(password.into()),
            ..Self::default()
        }
    }

    /// Reads `NATS_USER`, `NATS_PASSWORD`, `NATS_TLS_CA`, `NATS_TLS_CERT`, `NATS_TLS_KEY` and
    /// `NATS_TLS_REQUIRED` (`true`/`false`). A user needs a password and a password a user; a
    /// client certificate needs its key; named files must exist.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, EnvError> {
        let get = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let refuse = |key: &'static str, reason: &str| EnvError {
            key,
            reason: reason.into(),
        };
        let user = get("NATS_USER").map(str::to_owned);
        let password = env.get("NATS_PASSWORD").filter(|v| !v.is_empty()).cloned();
        match (&user, &password) {
            (Some(_), None) => return Err(refuse("NATS_PASSWORD", "NATS_USER is set without it")),
            (None, Some(_)) => return Err(refuse("NATS_USER", "NATS_PASSWORD is set without it")),
            _ => {}
        }
        if let Some(user) = &user
            && !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(refuse("NATS_USER", "letters, digits, '_' and '-' only"));
        }
        let file = |key: &'static str| -> Result<Option<PathBuf>, EnvError> {
            match get(key) {
                None => Ok(None),
                Some(path) if std::path::Path::new(path).is_file() => Ok(Some(path.into())),
                Some(path) => Err(refuse(key, &format!("{path} is not a readable file"))),
            }
        };
        let tls_ca = file("NATS_TLS_CA")?;
        let tls_client = match (file("NATS_TLS_CERT")?, file("NATS_TLS_KEY")?) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => return Err(refuse("NATS_TLS_KEY", "NATS_TLS_CERT needs its key")),
            (None, Some(_)) => {
                return Err(refuse(
                    "NATS_TLS_CERT",
                    "NATS_TLS_KEY needs its certificate",
                ));
            }
        };
        let require_tls = match get("NATS_TLS_REQUIRED") {
            None => tls_ca.is_some(),
            Some("true" | "1") => true,
            Some("false" | "0") => tls_ca.is_some(),
            Some(_) => return Err(refuse("NATS_TLS_REQUIRED", "true or false")),
        };
        Ok(Self {
            user,
            password,
            tls_ca,
            tls_client,
            require_tls,
        })
    }

    /// `options` with these credentials, TLS settings and the user's own inbox prefix.
    pub fn apply(&self, mut options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            options = options
                .user_and_password(user.clone(), password.clone())
                .custom_inbox_prefix(inbox_prefix(user));
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        options.require_tls(self.require_tls)
    }
}

/// The inbox prefix of `user`: `_INBOX_<user>`.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn no_variables_is_anonymous_without_tls() {
        assert_eq!(
            NatsAccess::from_env(&env(&[])).unwrap(),
            NatsAccess::default()
        );
    }

    #[test]
    fn user_and_password_go_together_and_the_password_is_never_printed() {
        let access = NatsAccess::from_env(&env(&[
            ("NATS_USER", "ledger"),
            ("NATS_PASSWORD", "s3cr3t"),
        ]))
        .unwrap();
        assert_eq!(access.user.as_deref(), Some("ledger"));
        assert!(!format!("{access:?}").contains("s3cr3t"));
        let err = NatsAccess::from_env(&env(&[("NATS_USER", "ledger")])).unwrap_err();
        assert_eq!(err.key, "NATS_PASSWORD");
        let err = NatsAccess::from_env(&env(&[("NATS_PASSWORD", "x")])).unwrap_err();
        assert_eq!(err.key, "NATS_USER");
        let err = NatsAccess::from_env(&env(&[("NATS_USER", "a.b"), ("NATS_PASSWORD", "x")]))
            .unwrap_err();
        assert_eq!(err.key, "NATS_USER");
    }

    #[test]
    fn tls_files_must_exist_and_a_ca_requires_tls() {
        let err =
            NatsAccess::from_env(&env(&[("NATS_TLS_CA", "/nonexistent/ca.pem")])).unwrap_err();
        assert_eq!(err.key, "NATS_TLS_CA");
        let ca = std::env::temp_dir().join(format!("tollgate-ca-{}.pem", std::process::id()));
        std::fs::write(&ca, "not checked here").unwrap();
        let ca_path = ca.to_str().unwrap();
        let access = NatsAccess::from_env(&env(&[("NATS_TLS_CA", ca_path)])).unwrap();
        assert!(access.require_tls);
        let err = NatsAccess::from_env(&env(&[("NATS_TLS_CERT", ca_path)])).unwrap_err();
        assert_eq!(err.key, "NATS_TLS_KEY");
        let err = NatsAccess::from_env(&env(&[("NATS_TLS_REQUIRED", "maybe")])).unwrap_err();
        assert_eq!(err.key, "NATS_TLS_REQUIRED");
        std::fs::remove_file(ca).unwrap();
    }
}
