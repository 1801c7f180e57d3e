//! Usage analytics reads (the rollups are written by services/analytics only).
//!
//! A query over `[from, to)` is answered from the coarsest rollups that fit: whole days from the
//! day table, whole hours at the edges from the hour table, the remaining minutes from the minute
//! table, so a 90-day report reads about 90 rows per series instead of 130,000. A bucket counts
//! when it starts within `[from, to)`: times are effectively rounded to whole minutes.

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Duration, DurationRound, Utc};
use rust_decimal::Decimal;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::StoreError;

/// Upper bounds (milliseconds, inclusive) of the latency histogram's buckets; one more bucket
/// above the last holds everything slower.
pub const LATENCY_BOUNDS_MS: [u64; 13] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

/// Buckets of the latency histogram (`lat_00` .. `lat_13` in the rollup tables).
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The histogram bucket of a request that took `micros`.
pub fn latency_bucket(micros: u64) -> usize {
    let ms = micros.div_ceil(1000);
    LATENCY_BOUNDS_MS
        .iter()
        .position(|bound| ms <= *bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// The latency columns, `lat_00, lat_01, ...`.
pub fn latency_columns() -> Vec<String> {
    (0..LATENCY_BUCKETS)
        .map(|i| format!("lat_{i:02}"))
        .collect()
}

/// A rollup table's granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// `analytics_usage_minute`.
    Minute,
    /// `analytics_usage_hour`.
    Hour,
    /// `analytics_usage_day`.
    Day,
}

impl Grain {
    /// Every granularity, finest first.
    pub const ALL: [Grain; 3] = [Grain::Minute, Grain::Hour, Grain::Day];

    /// The rollup table.
    pub fn table(self) -> &'static str {
        match self {
            Self::Minute => "analytics_usage_minute",
            Self::Hour => "analytics_usage_hour",
            Self::Day => "analytics_usage_day",
        }
    }

    /// The bucket length.
    pub fn length(self) -> Duration {
        match self {
            Self::Minute => Duration::minutes(1),
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
        }
    }

    /// The start of the bucket `at` falls in.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.duration_trunc(self.length()).unwrap_or(at)
    }

    fn ceil(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let floor = self.floor(at);
        if floor == at {
            at
        } else {
            floor + self.length()
        }
    }
}

/// What rows can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The tenant (operators only).
    Tenant,
    /// The model the client asked for.
    Model,
    /// The provider that answered (`cache` for cache hits).
    Provider,
    /// The API key id.
    Key,
    /// Each of the key's tags (a request counts once per tag of its key; untagged: null).
    Tag,
    /// The UTC day, `YYYY-MM-DD`.
    Day,
    /// The UTC hour, RFC 3339.
    Hour,
    /// The UTC minute, RFC 3339.
    Minute,
}

impl Dimension {
    /// The name in `group_by` and in answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tenant => "tenant_id",
            Self::Model => "model",
            Self::Provider => "provider",
            Self::Key => "key_id",
            Self::Tag => "tag",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Minute => "minute",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Self::Tenant => "u.tenant_id::text",
            Self::Model => "u.model",
            Self::Provider => "u.provider",
            Self::Key => "u.api_key_id::text",
            Self::Tag => "key_tag.tag",
            Self::Day => "to_char(u.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            Self::Hour => "to_char(u.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')",
            Self::Minute => {
                "to_char(u.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:00\"Z\"')"
            }
        }
    }

    /// The finest rollup this dimension can be read from.
    fn finest(self) -> Grain {
        match self {
            Self::Minute => Grain::Minute,
            Self::Hour => Grain::Hour,
            _ => Grain::Day,
        }
    }

    fn is_time(self) -> bool {
        matches!(self, Self::Day | Self::Hour | Self::Minute)
    }
}

impl FromStr for Dimension {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "tenant" | "tenant_id" => Self::Tenant,
            "model" => Self::Model,
            "provider" => Self::Provider,
            "key" | "key_id" => Self::Key,
            "tag" => Self::Tag,
            "day" => Self::Day,
            "hour" => Self::Hour,
            "minute" => Self::Minute,
            other => {
                return Err(format!(
                    "unknown group '{other}' (use tenant, model, provider, key, tag, day, hour or minute)"
                ));
            }
        })
    }
}

/// One analytics question.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    /// Only this tenant (`None`: every tenant, for operators).
    pub tenant: Option<Uuid>,
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Grouping, in answer order.
    pub group_by: Vec<Dimension>,
    /// Only this model.
    pub model: Option<String>,
    /// Rows by cost, dearest first, instead of by group.
    pub by_cost: bool,
    /// Most rows answered.
    pub limit: Option<i64>,
}

/// One group's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    /// The group's values, in `group_by` order (`None`: an untagged key).
    pub groups: Vec<Option<String>>,
    /// Requests.
    pub requests: i64,
    /// Requests answered with an error status.
    pub errors: i64,
    /// Prompt tokens billed.
    pub prompt_tokens: i64,
    /// Completion tokens billed.
    pub completion_tokens: i64,
    /// Prompt tokens read from providers' prompt caches.
    pub cached_tokens: i64,
    /// What was charged.
    pub cost_usd: Decimal,
    /// Requests answered from the gateway's cache.
    pub cache_hits: i64,
    /// What cache hits saved.
    pub saved_usd: Decimal,
    /// Requests per latency bucket (see [`LATENCY_BOUNDS_MS`]).
    pub latency: [i64; LATENCY_BUCKETS],
}

impl UsageRow {
    /// The `q` quantile of latency in milliseconds, interpolated within its bucket (the open
    /// top bucket answers its lower bound); `None` without requests.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        let total: i64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0i64;
        for (i, count) in self.latency.iter().enumerate() {
            if *count > 0 && (seen + count) as f64 >= target {
                let low = if i == 0 {
                    0.0
                } else {
                    LATENCY_BOUNDS_MS[i - 1] as f64
                };
                let Some(high) = LATENCY_BOUNDS_MS.get(i) else {
                    return Some(low);
                };
                let within = (target - seen as f64) / *count as f64;
                return Some(low + within.clamp(0.0, 1.0) * (*high as f64 - low));
            }
            seen += count;
        }
        Some(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1] as f64)
    }
}

/// The rollup segments that cover `[from, to)`, reading no rollup coarser than `coarsest`.
pub fn segments(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    coarsest: Grain,
) -> Vec<(Grain, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    split(from, to, coarsest, &mut out);
    out.sort_by_key(|(_, start, _)| *start);
    out
}

fn split(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    grain: Grain,
    out: &mut Vec<(Grain, DateTime<Utc>, DateTime<Utc>)>,
) {
    if from >= to {
        return;
    }
    let finer = match grain {
        Grain::Minute => {
            out.push((Grain::Minute, from, to));
            return;
        }
        Grain::Hour => Grain::Minute,
        Grain::Day => Grain::Hour,
    };
    let (start, end) = (grain.ceil(from), grain.floor(to));
    if start >= end {
        split(from, to, finer, out);
        return;
    }
    split(from, start, finer, out);
    out.push((grain, start, end));
    split(end, to, finer, out);
}

/// Answers `query` from the rollups.
pub async fn usage(pool: &PgPool, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
    let coarsest = query
        .group_by
        .iter()
        .map(|d| d.finest())
        .min_by_key(|g| Grain::ALL.iter().position(|x| x == g))
        .unwrap_or(Grain::Day);
    let segments = segments(query.from, query.to, coarsest);
    if segments.is_empty() {
        return Ok(Vec::new());
    }
    let latency = latency_columns();
    let columns = format!(
        "tenant_id, api_key_id, model, provider, bucket, requests, errors, prompt_tokens, \
         completion_tokens, cached_tokens, cost_usd, cache_hits, saved_usd, {}",
        latency.join(", ")
    );
    // $1 tenant, $2 model, then two bounds per segment.
    let mut union = String::new();
    for (i, (grain, _, _)) in segments.iter().enumerate() {
        if i > 0 {
            union.push_str(" UNION ALL ");
        }
        let (start, end) = (3 + 2 * i, 4 + 2 * i);
        let _ = write!(
            union,
            "SELECT {columns} FROM {} WHERE ($1::uuid IS NULL OR tenant_id = $1) \
             AND ($2::text IS NULL OR model = $2) AND bucket >= ${start} AND bucket < ${end}",
            grain.table()
        );
    }
    let groups: Vec<String> = query
        .group_by
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{} AS g{i}", d.sql()))
        .collect();
    let sums: Vec<String> = latency
        .iter()
        .map(|c| format!("sum({c})::bigint AS {c}"))
        .collect();
    let tags = if query.group_by.contains(&Dimension::Tag) {
        " LEFT JOIN LATERAL unnest((SELECT k.tags FROM api_keys k WHERE k.id = u.api_key_id)) \
         AS key_tag(tag) ON true"
    } else {
        ""
    };
    let group_clause = if groups.is_empty() {
        String::new()
    } else {
        let positions: Vec<String> = (1..=groups.len()).map(|p| p.to_string()).collect();
        format!(" GROUP BY {}", positions.join(", "))
    };
    let order = {
        let positions: Vec<String> = (1..=groups.len()).map(|p| p.to_string()).collect();
        let by_group = query.group_by.iter().any(|d| d.is_time()) && !query.by_cost;
        match (by_group, positions.is_empty()) {
            (_, true) => String::new(),
            (true, false) => format!(" ORDER BY {}", positions.join(", ")),
            (false, false) => format!(" ORDER BY cost_usd DESC, {}", positions.join(", ")),
        }
    };
    let limit = query
        .limit
        .map(|l| format!(" LIMIT {}", l.max(0)))
        .unwrap_or_default();
    let mut select = groups.clone();
    select.extend([
        "coalesce(sum(requests), 0)::bigint AS requests".to_owned(),
        "coalesce(sum(errors), 0)::bigint AS errors".to_owned(),
        "coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens".to_owned(),
        "coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens".to_owned(),
        "coalesce(sum(cached_tokens), 0)::bigint AS cached_tokens".to_owned(),
        "coalesce(sum(cost_usd), 0) AS cost_usd".to_owned(),
        "coalesce(sum(cache_hits), 0)::bigint AS cache_hits".to_owned(),
        "coalesce(sum(saved_usd), 0) AS saved_usd".to_owned(),
    ]);
    select.extend(sums);
    let sql = format!(
        "SELECT {} FROM ({union}) u{tags}{group_clause} HAVING sum(requests) > 0{order}{limit}",
        select.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(query.tenant).bind(&query.model);
    for (_, start, end) in &segments {
        q = q.bind(*start).bind(*end);
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let mut latency_counts = [0i64; LATENCY_BUCKETS];
            for (i, column) in latency.iter().enumerate() {
                latency_counts[i] = row.try_get::<Option<i64>, _>(column.as_str())?.unwrap_or(0);
            }
            Ok(UsageRow {
                groups: (0..query.group_by.len())
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect::<Result<_, _>>()?,
                requests: row.try_get("requests")?,
                errors: row.try_get("errors")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
                cached_tokens: row.try_get("cached_tokens")?,
                cost_usd: row.try_get::<Decimal, _>("cost_usd")?.normalize(),
                cache_hits: row.try_get("cache_hits")?,
                saved_usd: row.try_get::<Decimal, _>("saved_usd")?.normalize(),
                latency: latency_counts,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_long_range_reads_days_in_the_middle_and_finer_rollups_at_the_edges() {
        let got = segments(
            at("2026-11-01T10:30:00Z"),
            at("2026-11-05T02:15:00Z"),
            Grain::Day,
        );
        let want = vec![
            (
                Grain::Minute,
                at("2026-11-01T10:30:00Z"),
                at("2026-11-01T11:00:00Z"),
            ),
            (
                Grain::Hour,
                at("2026-11-01T11:00:00Z"),
                at("2026-11-02T00:00:00Z"),
            ),
            (
                Grain::Day,
                at("2026-11-02T00:00:00Z"),
                at("2026-11-05T00:00:00Z"),
            ),
            (
                Grain::Hour,
                at("2026-11-05T00:00:00Z"),
                at("2026-11-05T02:00:00Z"),
            ),
            (
                Grain::Minute,
                at("2026-11-05T02:00:00Z"),
                at("2026-11-05T02:15:00Z"),
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn hourly_grouping_never_reads_days_and_short_ranges_read_minutes() {
        let got = segments(
            at("2026-11-01T00:00:00Z"),
            at("2026-11-03T00:00:00Z"),
            Grain::Hour,
        );
        assert_eq!(
            got,
            vec![(
                Grain::Hour,
                at("2026-11-01T00:00:00Z"),
                at("2026-11-03T00:00:00Z")
            )]
        );
        let short = segments(
            at("2026-11-01T10:10:00Z"),
            at("2026-11-01T10:50:00Z"),
            Grain::Day,
        );
        assert_eq!(
            short,
            vec![(
                Grain::Minute,
                at("2026-11-01T10:10:00Z"),
                at("2026-11-01T10:50:00Z")
            )]
        );
        assert!(
            segments(
                at("2026-11-02T00:00:00Z"),
                at("2026-11-01T00:00:00Z"),
                Grain::Day
            )
            .is_empty()
        );
    }

    #[test]
    fn latency_buckets_and_quantiles() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(5_000), 0);
        assert_eq!(latency_bucket(5_001), 1);
        assert_eq!(latency_bucket(999_000), 7);
        assert_eq!(latency_bucket(120_000_000), LATENCY_BUCKETS - 1);
        let mut row = UsageRow {
            groups: vec![],
            requests: 100,
            errors: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            cost_usd: Decimal::ZERO,
            cache_hits: 0,
            saved_usd: Decimal::ZERO,
            latency: [0; LATENCY_BUCKETS],
        };
        assert_eq!(row.latency_ms(0.5), None);
        row.latency[1] = 50; // 5-10 ms
        row.latency[4] = 50; // 50-100 ms
        assert_eq!(row.latency_ms(0.5), Some(10.0));
        assert_eq!(row.latency_ms(0.75), Some(75.0));
        row.latency[LATENCY_BUCKETS - 1] = 100;
        assert_eq!(row.latency_ms(0.99), Some(60_000.0));
    }
}
