//! `GET /api/v1/analytics/{costs,usage,top}`: reads of the analytics rollups (written by
//! services/analytics). The operator may read every tenant or one; a tenant's key reads its own
//! tenant only (another tenant id is 404). JSON by default, CSV with `format=csv`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tollgate_store::analytics::{Dimension, UsageQuery, UsageRow};
use uuid::Uuid;

use super::access::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Longest range one query may cover.
const MAX_RANGE_DAYS: i64 = 400;
/// Most rows `top` answers.
const MAX_TOP: i64 = 1000;

/// Query parameters shared by the analytics endpoints (strings, validated here for clear 400s).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AnalyticsParams {
    tenant_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    period: Option<String>,
    group_by: Option<String>,
    interval: Option<String>,
    model: Option<String>,
    by: Option<String>,
    limit: Option<String>,
    format: Option<String>,
}

fn invalid(message: impl Into<String>, param: &'static str) -> ApiError {
    ApiError::invalid(message, "invalid_request", Some(param))
}

/// `[from, to)` from `period=24h|7d|30d|90d` (ending now) or `from`/`to` (RFC 3339; `to`
/// defaults to now), the last 24 hours if neither is given.
fn range(
    params: &AnalyticsParams,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let parse = super::params::parse_time;
    let (from, to) = match (&params.period, &params.from) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give either 'period' or 'from'/'to', not both",
                "period",
            ));
        }
        (Some(period), None) => {
            let length = match period.as_str() {
                "1h" => Duration::hours(1),
                "24h" | "1d" => Duration::hours(24),
                "7d" => Duration::days(7),
                "30d" => Duration::days(30),
                "90d" => Duration::days(90),
                other => {
                    return Err(invalid(
                        format!("unknown period '{other}' (use 1h, 24h, 7d, 30d or 90d)"),
                        "period",
                    ));
                }
            };
            if params.to.is_some() {
                return Err(invalid("'to' goes with 'from', not with 'period'", "to"));
            }
            (now - length, now)
        }
        (None, Some(from)) => {
            let to = match &params.to {
                Some(to) => parse(to, "to")?,
                None => now,
            };
            (parse(from, "from")?, to)
        }
        (None, None) if params.to.is_some() => return Err(invalid("'to' needs 'from'", "from")),
        (None, None) => (now - Duration::hours(24), now),
    };
    if from >= to {
        return Err(invalid("'from' must be before 'to'", "from"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(invalid(
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
            "from",
        ));
    }
    Ok((from, to))
}

fn dimensions(raw: Option<&str>, principal: Principal) -> Result<Vec<Dimension>, ApiError> {
    let mut out: Vec<Dimension> = Vec::new();
    for name in raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let dimension: Dimension = name.parse().map_err(|e: String| invalid(e, "group_by"))?;
        if dimension == Dimension::Tenant && principal != Principal::Operator {
            return Err(invalid("group_by=tenant is for the operator", "group_by"));
        }
        if out.contains(&dimension) {
            return Err(invalid(format!("'{name}' is named twice"), "group_by"));
        }
        out.push(dimension);
    }
    if out
        .iter()
        .filter(|d| matches!(d, Dimension::Day | Dimension::Hour | Dimension::Minute))
        .count()
        > 1
    {
        return Err(invalid(
            "group by at most one of day, hour and minute",
            "group_by",
        ));
    }
    Ok(out)
}

fn tenant_param(params: &AnalyticsParams) -> Result<Option<Uuid>, ApiError> {
    params
        .tenant_id
        .as_deref()
        .map(|raw| {
            Uuid::parse_str(raw)
                .map_err(|_| ApiError::not_found("tenant not found", "tenant_not_found"))
        })
        .transpose()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format(params: &AnalyticsParams) -> Result<Format, ApiError> {
    match params.format.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(invalid(
            format!("unknown format '{other}' (use json or csv)"),
            "format",
        )),
    }
}

/// One answer column: its name and how a row fills it.
type Column = (&'static str, fn(&UsageRow) -> Value);

const COST_COLUMNS: &[Column] = &[
    ("requests", |r| json!(r.requests)),
    ("prompt_tokens", |r| json!(r.prompt_tokens)),
    ("completion_tokens", |r| json!(r.completion_tokens)),
    ("cached_tokens", |r| json!(r.cached_tokens)),
    ("cost_usd", |r| json!(r.cost_usd.to_string())),
    ("cache_hits", |r| json!(r.cache_hits)),
    ("saved_usd", |r| json!(r.saved_usd.to_string())),
];

const USAGE_COLUMNS: &[Column] = &[
    ("requests", |r| json!(r.requests)),
    ("errors", |r| json!(r.errors)),
    ("error_rate", |r| json!(ratio(r.errors, r.requests))),
    ("prompt_tokens", |r| json!(r.prompt_tokens)),
    ("completion_tokens", |r| json!(r.completion_tokens)),
    ("cached_tokens", |r| json!(r.cached_tokens)),
    ("cache_hits", |r| json!(r.cache_hits)),
    ("latency_p50_ms", |r| {
        json!(r.latency_ms(0.50).map(round_ms))
    }),
    ("latency_p95_ms", |r| {
        json!(r.latency_ms(0.95).map(round_ms))
    }),
    ("latency_p99_ms", |r| {
        json!(r.latency_ms(0.99).map(round_ms))
    }),
];

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 1e4).round() / 1e4
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// Renders rows as `{"data": [...], ...}` or as CSV with a header line.
fn render(
    rows: &[UsageRow],
    groups: &[Dimension],
    columns: &[Column],
    format: Format,
    meta: Map<String, Value>,
) -> HttpResponse {
    match format {
        Format::Json => {
            let data: Vec<Value> = rows
                .iter()
                .map(|row| {
                    let mut object = Map::new();
                    for (dimension, value) in groups.iter().zip(&row.groups) {
                        object.insert(dimension.name().into(), json!(value));
                    }
                    for (name, fill) in columns {
                        object.insert((*name).into(), fill(row));
                    }
                    Value::Object(object)
                })
                .collect();
            let mut body = meta;
            body.insert("data".into(), Value::Array(data));
            HttpResponse::Ok().json(body)
        }
        Format::Csv => {
            let header: Vec<&str> = groups
                .iter()
                .map(|d| d.name())
                .chain(columns.iter().map(|c| c.0))
                .collect();
            let mut out = header.join(",");
            out.push('\n');
            for row in rows {
                let cells: Vec<String> = row
                    .groups
                    .iter()
                    .map(|g| csv_cell(g.as_deref().unwrap_or("")))
                    .chain(columns.iter().map(|(_, fill)| match fill(row) {
                        Value::String(s) => csv_cell(&s),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    }))
                    .collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .body(out)
        }
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). A text that a
/// spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return, and is not a number) is prefixed with `'` so it is shown, never evaluated.
fn csv_cell(value: &str) -> String {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && value.parse::<rust_decimal::Decimal>().is_err();
    let value = if formula {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.into_owned()
    }
}

fn meta(tenant: Option<Uuid>, from: DateTime<Utc>, to: DateTime<Utc>) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("tenant_id".into(), json!(tenant));
    meta.insert(
        "from".into(),
        json!(from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    meta.insert(
        "to".into(),
        json!(to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    meta
}

/// `GET /api/v1/analytics/costs?tenant_id&from&to|period&group_by=model,provider,key,tag,day,hour&format`
pub async fn costs(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<AnalyticsParams>,
) -> Result<HttpResponse, ApiError> {
    let tenant = principal.scope(tenant_param(&params)?)?;
    let (from, to) = range(&params, Utc::now())?;
    let group_by = dimensions(params.group_by.as_deref(), principal)?;
    let format = format(&params)?;
    let query = UsageQuery {
        tenant,
        from,
        to,
        group_by: group_by.clone(),
        model: params.model.clone(),
        by_cost: false,
        limit: None,
    };
    let rows = tollgate_store::analytics::usage(&state.pool, &query).await?;
    Ok(render(
        &rows,
        &group_by,
        COST_COLUMNS,
        format,
        meta(tenant, from, to),
    ))
}

/// `GET /api/v1/analytics/usage?tenant_id&from&to|period&interval=minute|hour|day&group_by&model&format`:
/// requests, tokens, error rate and latency percentiles over time.
pub async fn usage(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<AnalyticsParams>,
) -> Result<HttpResponse, ApiError> {
    let tenant = principal.scope(tenant_param(&params)?)?;
    let (from, to) = range(&params, Utc::now())?;
    let interval = match params.interval.as_deref() {
        None => {
            if to - from <= Duration::hours(6) {
                Dimension::Minute
            } else if to - from <= Duration::days(7) {
                Dimension::Hour
            } else {
                Dimension::Day
            }
        }
        Some("minute") => Dimension::Minute,
        Some("hour") => Dimension::Hour,
        Some("day") => Dimension::Day,
        Some(other) => {
            return Err(invalid(
                format!("unknown interval '{other}' (use minute, hour or day)"),
                "interval",
            ));
        }
    };
    if interval == Dimension::Minute && to - from > Duration::days(2) {
        return Err(invalid(
            "interval=minute covers at most 2 days; use hour or day",
            "interval",
        ));
    }
    let mut group_by = vec![interval];
    for extra in dimensions(params.group_by.as_deref(), principal)? {
        if matches!(extra, Dimension::Day | Dimension::Hour | Dimension::Minute) {
            return Err(invalid(
                "time goes in 'interval', not 'group_by'",
                "group_by",
            ));
        }
        group_by.push(extra);
    }
    let format = format(&params)?;
    let query = UsageQuery {
        tenant,
        from,
        to,
        group_by: group_by.clone(),
        model: params.model.clone(),
        by_cost: false,
        limit: None,
    };
    let rows = tollgate_store::analytics::usage(&state.pool, &query).await?;
    let mut meta = meta(tenant, from, to);
    meta.insert("interval".into(), json!(interval.name()));
    Ok(render(&rows, &group_by, USAGE_COLUMNS, format, meta))
}

/// `GET /api/v1/analytics/top?by=tenant|model|key|provider|tag&from&to|period&limit&tenant_id&format`:
/// the dearest groups first.
pub async fn top(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<AnalyticsParams>,
) -> Result<HttpResponse, ApiError> {
    let tenant = principal.scope(tenant_param(&params)?)?;
    let (from, to) = range(&params, Utc::now())?;
    let by = match params.by.as_deref() {
        None if principal == Principal::Operator => Dimension::Tenant,
        None => Dimension::Model,
        Some(raw) => {
            let dims = dimensions(Some(raw), principal).map_err(|_| {
                invalid(
                    format!("'by' must be one of tenant, model, key, provider, tag (got '{raw}')"),
                    "by",
                )
            })?;
            match dims.as_slice() {
                [one] if !matches!(one, Dimension::Day | Dimension::Hour | Dimension::Minute) => {
                    *one
                }
                _ => {
                    return Err(invalid(
                        "'by' takes one of tenant, model, key, provider, tag",
                        "by",
                    ));
                }
            }
        }
    };
    let limit = super::params::parse_limit(params.limit.as_deref(), 10, MAX_TOP)?;
    let format = format(&params)?;
    let query = UsageQuery {
        tenant,
        from,
        to,
        group_by: vec![by],
        model: params.model.clone(),
        by_cost: true,
        limit: Some(limit),
    };
    let rows = tollgate_store::analytics::usage(&state.pool, &query).await?;
    let mut meta = meta(tenant, from, to);
    meta.insert("by".into(), json!(by.name()));
    Ok(render(&rows, &[by], COST_COLUMNS, format, meta))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> AnalyticsParams {
        let query: String = pairs.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        web::Query::<AnalyticsParams>::from_query(&query)
            .unwrap()
            .into_inner()
    }

    #[test]
    fn ranges_from_periods_and_times_and_their_errors() {
        let now: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
        let (from, to) = range(&params(&[("period", "7d")]), now).unwrap();
        assert_eq!((to - from, to), (Duration::days(7), now));
        let (from, to) = range(
            &params(&[
                ("from", "2026-11-01T00:00:00Z"),
                ("to", "2026-11-02T00:00:00Z"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(to - from, Duration::days(1));
        for bad in [
            vec![("period", "2w")],
            vec![("from", "yesterday")],
            vec![
                ("from", "2026-11-02T00:00:00Z"),
                ("to", "2026-11-01T00:00:00Z"),
            ],
            vec![("period", "7d"), ("from", "2026-11-01T00:00:00Z")],
            vec![("to", "2026-11-01T00:00:00Z")],
            vec![("from", "2020-01-01T00:00:00Z")],
        ] {
            assert!(range(&params(&bad), now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_by_names_are_checked() {
        assert_eq!(
            dimensions(Some("model, day"), Principal::Operator).unwrap(),
            vec![Dimension::Model, Dimension::Day]
        );
        assert!(dimensions(Some("colour"), Principal::Operator).is_err());
        assert!(dimensions(Some("day,hour"), Principal::Operator).is_err());
        assert!(dimensions(Some("model,model"), Principal::Operator).is_err());
        assert!(dimensions(Some("tenant"), Principal::Tenant(Uuid::nil())).is_err());
    }

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        // Formula injection: shown as text, numbers untouched.
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-0.5"), "-0.5");
        assert_eq!(csv_cell("\tx"), "'\tx");
    }
}
