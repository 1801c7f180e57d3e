//! NATS server lists: every service takes `NATS_URLS` (or `NATS_URL`) as comma-separated URLs
//! of one cluster, connects to any reachable one and fails over between them (the client also
//! learns the other members the cluster announces).

use std::collections::HashMap;

use async_nats::ServerAddr;

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
    server_addrs(&urls).map_err(|reason| EnvError { key, reason })?;
    Ok(urls)
}

/// Parses a comma-separated list of NATS URLs (`nats://host:port`, `tls://…`, or `host:port`);
/// refuses an empty list, an empty item or an unparsable URL, naming it.
pub fn server_addrs(urls: &str) -> Result<Vec<ServerAddr>, String> {
    let addrs = urls
        .split(',')
        .map(str::trim)
        .map(|url| {
            if url.is_empty() {
                return Err("an empty URL in the list".to_owned());
            }
            url.parse::<ServerAddr>()
                .map_err(|e| format!("{url:?} is not a NATS URL: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(addrs)
}

/// Connects `options` to any server of the comma-separated `urls`.
pub async fn connect_any(
    options: async_nats::ConnectOptions,
    urls: &str,
) -> Result<async_nats::Client, String> {
    let addrs = server_addrs(urls)?;
    options
        .connect(addrs.as_slice())
        .await
        .map_err(|e| format!("{e} (tried {urls})"))
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
        assert!(err.contains("http://b:4222"), "{err}");
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
