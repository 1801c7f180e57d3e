//! Query parameters the read endpoints share.

/// A page size from `?limit=`: `default` when absent, otherwise an integer in `1..=max` (400).
pub fn parse_limit(
    raw: Option<&str>,
    default: i64,
    max: i64,
) -> Result<i64, crate::error::ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    raw.parse::<i64>()
        .ok()
        .filter(|l| (1..=max).contains(l))
        .ok_or_else(|| {
            crate::error::ApiError::invalid(
                format!("'limit' must be an integer from 1 to {max}"),
                "invalid_request",
                Some("limit"),
            )
        })
}
