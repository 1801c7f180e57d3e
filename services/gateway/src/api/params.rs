//! Parameters the management endpoints share: page sizes, paging cursors, times and money
//! amounts.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

/// Most decimal places accepted in a money amount.
const MAX_MONEY_SCALE: u32 = 10;

/// A page size from `?limit=`: `default` when absent, otherwise an integer in `1..=max` (400).
pub fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    raw.parse::<i64>()
        .ok()
        .filter(|l| (1..=max).contains(l))
        .ok_or_else(|| {
            ApiError::invalid(
                format!("'limit' must be an integer from 1 to {max}"),
                "invalid_request",
                Some("limit"),
            )
        })
}

/// `?before=`: the last `event_id` of the previous page.
pub fn parse_before(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::invalid(
            "'before' must be an event_id from a previous page",
            "invalid_request",
            Some("before"),
        )
    })
}

/// A time parameter `param` in RFC 3339.
pub fn parse_time(raw: &str, param: &'static str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid(
                format!(
                    "'{param}' must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z (got '{raw}')"
                ),
                "invalid_request",
                Some(param),
            )
        })
}

/// Parses a money amount sent as a decimal string (floats are refused: they are not exact).
pub fn parse_money(value: &Value, field: &'static str) -> Result<Decimal, ApiError> {
    let bad =
        |why: &str| ApiError::invalid(format!("'{field}' {why}"), "invalid_amount", Some(field));
    let Value::String(text) = value else {
        return Err(bad("must be a decimal string, e.g. \"10.00\""));
    };
    let amount: Decimal = text
        .trim()
        .parse()
        .map_err(|_| bad("is not a decimal number"))?;
    if amount.scale() > MAX_MONEY_SCALE && amount.normalize().scale() > MAX_MONEY_SCALE {
        return Err(bad("has more than 10 decimal places"));
    }
    if amount.abs() >= tollgate_billing::MONEY_LIMIT {
        return Err(bad("must be below 10000000000 in magnitude"));
    }
    Ok(amount.normalize())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn money_must_be_an_exact_decimal_string() {
        assert_eq!(
            parse_money(&json!("10.00"), "a").ok(),
            Some(Decimal::new(10, 0))
        );
        assert_eq!(
            parse_money(&json!("0.0000000001"), "a").ok(),
            Some(Decimal::new(1, 10))
        );
        assert!(parse_money(&json!("0.00000000001"), "a").is_err());
        assert!(parse_money(&json!(10.5), "a").is_err());
        assert!(parse_money(&json!("ten"), "a").is_err());
        assert_eq!(
            parse_money(&json!("1.50000000000000"), "a").ok(),
            Some(Decimal::new(15, 1))
        );
        // The ledger's NUMERIC(20,10) holds 10 integer digits (found by the money fuzz target).
        assert!(parse_money(&json!("9999999999.9999999999"), "a").is_ok());
        assert!(parse_money(&json!("10000000000"), "a").is_err());
        assert!(parse_money(&json!("-99999999999.5"), "a").is_err());
    }
}
