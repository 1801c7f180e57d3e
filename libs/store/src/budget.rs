//! Budgets that reset: the calendar periods (UTC) a key's or tenant's `budget_usd` applies to,
//! and the spend of the current period as the ledger booked it (by each charge's event time).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// The period a budget covers: a UTC calendar day, ISO week (from Monday), calendar month, or
/// all time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BudgetPeriod {
    /// 00:00 to 24:00 UTC.
    Day,
    /// Monday 00:00 UTC to the next Monday.
    Week,
    /// The 1st 00:00 UTC to the next 1st.
    Month,
    /// Never resets.
    #[default]
    Total,
}

impl BudgetPeriod {
    /// The name stored and shown: `day`, `week`, `month` or `total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Total => "total",
        }
    }

    /// An adjective for messages: `daily`, `weekly`, `monthly`, `total`.
    pub fn adjective(self) -> &'static str {
        match self {
            Self::Day => "daily",
            Self::Week => "weekly",
            Self::Month => "monthly",
            Self::Total => "total",
        }
    }

    /// The first day of the period that contains `now` (`None` for `total`).
    pub fn first_day(self, now: DateTime<Utc>) -> Option<NaiveDate> {
        let today = now.date_naive();
        match self {
            Self::Day => Some(today),
            Self::Week => {
                today.checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
            }
            Self::Month => today.with_day(1),
            Self::Total => None,
        }
    }

    /// The first day of the next period (`None` for `total`).
    fn next_first_day(self, now: DateTime<Utc>) -> Option<NaiveDate> {
        let first = self.first_day(now)?;
        match self {
            Self::Day => first.checked_add_days(Days::new(1)),
            Self::Week => first.checked_add_days(Days::new(7)),
            Self::Month => first.checked_add_months(Months::new(1)),
            Self::Total => None,
        }
    }

    /// When the period containing `now` began (`None` for `total`).
    pub fn starts_at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.first_day(now).map(midnight)
    }

    /// When the period containing `now` ends and the budget resets (`None` for `total`).
    pub fn resets_at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_first_day(now).map(midnight)
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

impl fmt::Display for BudgetPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BudgetPeriod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            "total" => Ok(Self::Total),
            _ => Err("'budget_period' must be one of day, week, month or total".into()),
        }
    }
}

impl TryFrom<String> for BudgetPeriod {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl Serialize for BudgetPeriod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whose spend: one key, or all keys of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendOwner {
    /// One API key.
    Key(Uuid),
    /// A whole tenant.
    Tenant(Uuid),
}

impl SpendOwner {
    /// The key's or tenant's id.
    pub fn id(self) -> Uuid {
        match self {
            Self::Key(id) | Self::Tenant(id) => id,
        }
    }
}

/// A key's or tenant's booked spend, all time and within one period, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookedSpend {
    /// All usage cost booked.
    pub total: Decimal,
    /// Usage cost booked with an event time on or after the period's first day.
    pub in_period: Decimal,
    /// The stream sequence `total` reflects.
    pub seq: i64,
}

/// What `owner` has spent, in all and since `first_day` (`None`: all time), in one snapshot.
pub async fn booked_spend(
    pool: &PgPool,
    owner: SpendOwner,
    first_day: Option<NaiveDate>,
) -> Result<BookedSpend, StoreError> {
    let Some(first_day) = first_day else {
        // All time: the booked total is the figure (no days to add up).
        let sql = match owner {
            SpendOwner::Key(_) => {
                "SELECT COALESCE(k.spent_usd, 0), COALESCE(k.last_seq, 0) \
                 FROM (SELECT 1) one LEFT JOIN key_spend k ON k.api_key_id = $1"
            }
            SpendOwner::Tenant(_) => {
                "SELECT COALESCE(b.spent_usd, 0), COALESCE(b.last_seq, 0) \
                 FROM (SELECT 1) one LEFT JOIN tenant_balances b ON b.tenant_id = $1"
            }
        };
        let (total, seq): (Decimal, i64) =
            sqlx::query_as(sql).bind(owner.id()).fetch_one(pool).await?;
        return Ok(BookedSpend {
            total,
            in_period: total,
            seq,
        });
    };
    let sql = match owner {
        SpendOwner::Key(_) => {
            "SELECT COALESCE(k.spent_usd, 0), COALESCE(k.last_seq, 0), \
               (SELECT COALESCE(SUM(spent_usd), 0) FROM daily_spend \
                WHERE api_key_id = $1 AND day >= $2) \
             FROM (SELECT 1) one LEFT JOIN key_spend k ON k.api_key_id = $1"
        }
        SpendOwner::Tenant(_) => {
            "SELECT COALESCE(b.spent_usd, 0), COALESCE(b.last_seq, 0), \
               (SELECT COALESCE(SUM(spent_usd), 0) FROM daily_spend \
                WHERE tenant_id = $1 AND day >= $2) \
             FROM (SELECT 1) one LEFT JOIN tenant_balances b ON b.tenant_id = $1"
        }
    };
    let (total, seq, in_period): (Decimal, i64, Decimal) = sqlx::query_as(sql)
        .bind(owner.id())
        .bind(first_day)
        .fetch_one(pool)
        .await?;
    Ok(BookedSpend {
        total,
        in_period,
        seq,
    })
}

/// A budget's state as shown on `GET`: the spend of the current period and when it resets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodSpend {
    /// Usage cost booked in the current period.
    #[serde(serialize_with = "money")]
    pub period_spent_usd: Decimal,
    /// When the current period began (`None` for `total`).
    pub period_started_at: Option<DateTime<Utc>>,
    /// When it ends and the budget resets (`None` for `total`).
    pub period_resets_at: Option<DateTime<Utc>>,
}

fn money<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.normalize().to_string())
}

/// The current period's spend of `owner` under `period`, as of `now`.
pub async fn period_spend(
    pool: &PgPool,
    owner: SpendOwner,
    period: BudgetPeriod,
    now: DateTime<Utc>,
) -> Result<PeriodSpend, StoreError> {
    let booked = booked_spend(pool, owner, period.first_day(now)).await?;
    Ok(PeriodSpend {
        period_spent_usd: booked.in_period,
        period_started_at: period.starts_at(now),
        period_resets_at: period.resets_at(now),
    })
}

/// The current period's spend of every key of a tenant, each under its own `budget_period`.
pub async fn keys_period_spend(
    pool: &PgPool,
    tenant_id: Uuid,
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Decimal>, StoreError> {
    let rows: Vec<(Uuid, Decimal)> = sqlx::query_as(
        "SELECT k.id, COALESCE(SUM(d.spent_usd), 0) FROM api_keys k \
         LEFT JOIN daily_spend d ON d.tenant_id = k.tenant_id AND d.api_key_id = k.id \
           AND d.day >= CASE k.budget_period WHEN 'day' THEN $2 WHEN 'week' THEN $3 \
                         WHEN 'month' THEN $4 ELSE '-infinity'::date END \
         WHERE k.tenant_id = $1 GROUP BY k.id",
    )
    .bind(tenant_id)
    .bind(BudgetPeriod::Day.first_day(now))
    .bind(BudgetPeriod::Week.first_day(now))
    .bind(BudgetPeriod::Month.first_day(now))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn calendar_periods_begin_and_reset_at_utc_midnight() {
        // Wednesday 2026-12-30, 23:59:59 UTC.
        let now = at("2026-12-30T23:59:59Z");
        let day = BudgetPeriod::Day;
        assert_eq!(day.starts_at(now), Some(at("2026-12-30T00:00:00Z")));
        assert_eq!(day.resets_at(now), Some(at("2026-12-31T00:00:00Z")));
        let week = BudgetPeriod::Week;
        assert_eq!(week.starts_at(now), Some(at("2026-12-28T00:00:00Z")));
        assert_eq!(week.resets_at(now), Some(at("2027-01-04T00:00:00Z")));
        let month = BudgetPeriod::Month;
        assert_eq!(month.starts_at(now), Some(at("2026-12-01T00:00:00Z")));
        assert_eq!(month.resets_at(now), Some(at("2027-01-01T00:00:00Z")));
        assert_eq!(BudgetPeriod::Total.starts_at(now), None);
        assert_eq!(BudgetPeriod::Total.resets_at(now), None);
    }

    #[test]
    fn a_period_boundary_belongs_to_the_new_period() {
        let monday = at("2027-01-04T00:00:00Z");
        assert_eq!(BudgetPeriod::Week.starts_at(monday), Some(monday));
        assert_eq!(
            BudgetPeriod::Month.resets_at(at("2027-02-28T12:00:00Z")),
            Some(at("2027-03-01T00:00:00Z"))
        );
        assert_eq!(
            BudgetPeriod::Month.resets_at(at("2028-02-29T12:00:00Z")),
            Some(at("2028-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn names_round_trip_and_anything_else_is_refused() {
        for period in [
            BudgetPeriod::Day,
            BudgetPeriod::Week,
            BudgetPeriod::Month,
            BudgetPeriod::Total,
        ] {
            assert_eq!(period.as_str().parse::<BudgetPeriod>(), Ok(period));
        }
        assert!("Day".parse::<BudgetPeriod>().is_err());
        assert!("daily".parse::<BudgetPeriod>().is_err());
        assert!("".parse::<BudgetPeriod>().is_err());
    }
}
