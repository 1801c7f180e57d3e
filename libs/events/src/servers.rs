//! NATS server lists: every service takes `NATS_URLS` (or `NATS_URL`) as comma-separated URLs
//! of one cluster, connects to any reachable one and fails over between them (the client also
//! learns the other members the cluster announces).

use std::collections::HashMap;

use async_nats::ServerAddr;
use thiserror::Error;

/// The URL list when neither `NATS_URLS` nor `NATS_URL` is set.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// A refused environment variable: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    /// The variable.
    pub key: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

/// `NATS_URLS` if set, else `NATS_URL`, else [`DEFAULT_NATS_URL`]: a validated
/// comma-separated list.
pub fn nats_urls_from_env(env: &HashMap<String, String>) -> Result<String, EnvError> {
    let (key, urls) = match (env.get("NATS_URLS"), env.get("NATS_URL")) {
        (Some(urls), _) => ("NATS_URLS", urls.clone()),
        (None, Some(url)) => ("NATS_URL", url.clone()),
        (None, None) => return Ok(DEFAULT_NATS_URL.into()),
    };
    server_addrs(&urls).map_err(|e| EnvError {
        key,
        reason: e.to_string(),
    })?;
    Ok(urls)
}

/// A refused NATS server list.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServerListError {
    /// Two commas in a row, or nothing at all.
    #[error("an empty URL in the list")]
    EmptyItem,
    /// An item that does not parse.
    #[error("{url:?} is not a NATS URL: {reason}")]
    NotAUrl {
        /// The item.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// Why no NATS server of a list could be reached.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The list itself is refused.
    #[error(transparent)]
    List(#[from] ServerListError),
    /// No server of the list answered.
    #[error("{source} (tried {urls})")]
    Unreachable {
        /// The client's error.
        source: async_nats::ConnectError,
        /// The list tried.
        urls: String,
    },
}

/// Parses a comma-separated list of NATS URLs (`nats://host:port`, `tls://…`, or `host:port`);
/// refuses an empty list, an empty item or an unparsable URL, naming it.
pub fn server_addrs(urls: &str) -> Result<Vec<ServerAddr>, ServerListError> {
    urls.split(',')
        .map(str::trim)
        .map(|url| {
            if url.is_empty() {
                return Err(ServerListError::EmptyItem);
            }
            url.parse::<ServerAddr>()
                .map_err(|e| ServerListError::NotAUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// Connects `options` to any server of the comma-separated `urls`.
pub async fn connect_any(
    options: async_nats::ConnectOptions,
    urls: &str,
) -> Result<async_nats::Client, ConnectError> {
    let addrs = server_addrs(urls)?;
    options
        .connect(addrs.as_slice())
        .await
        .map_err(|source| ConnectError::Unreachable {
            source,
            urls: urls.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_urls_parses_in_order() {
        let addrs = server_addrs("nats://a:4222, nats://b:4223 ,c:4224").unwrap();
        let hosts: Vec<_> = addrs
            .iter()
            .map(|a| (a.host().to_owned(), a.port()))
            .collect();
        assert_eq!(
            hosts,
            [("a".into(), 4222), ("b".into(), 4223), ("c".into(), 4224)]
        );
    }

    #[test]
    fn empty_items_and_bad_urls_are_refused() {
        assert!(server_addrs("").is_err());
        assert!(server_addrs("nats://a:4222,,nats://b:4222").is_err());
        let err = server_addrs("nats://a:4222,http://b:4222").unwrap_err();
        assert!(
            matches!(&err, ServerListError::NotAUrl { url, .. } if url == "http://b:4222"),
            "{err}"
        );
    }

    #[test]
    fn nats_urls_wins_over_nats_url() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        assert_eq!(nats_urls_from_env(&env(&[])).unwrap(), DEFAULT_NATS_URL);
        assert_eq!(
            nats_urls_from_env(&env(&[("NATS_URL", "nats://x:1")])).unwrap(),
            "nats://x:1"
        );
        let both = env(&[
            ("NATS_URL", "nats://x:1"),
            ("NATS_URLS", "nats://y:1,nats://z:1"),
        ]);
        assert_eq!(nats_urls_from_env(&both).unwrap(), "nats://y:1,nats://z:1");
        let bad = nats_urls_from_env(&env(&[("NATS_URLS", "nats://y:1,")])).unwrap_err();
        assert_eq!(bad.key, "NATS_URLS");
    }
}
