//! Scalars the contract names that async-graphql spells differently, and
//! the bounds every date and instant input passes: years outside
//! [`crate::domain::time::EARLIEST_YEAR`]..=[`crate::domain::time::LATEST_YEAR`]
//! are refused here, before any arithmetic (chrono's arithmetic panics near
//! its own limits, ±262,000 years).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, Utc};

use crate::domain::time::{date_in_bounds, instant_in_bounds};

/// A calendar date, `YYYY-MM-DD` (the contract's `Date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, YYYY-MM-DD; years 1900 to 2200.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|date| date_in_bounds(*date))
                .map(Date)
                .ok_or_else(|| InputValueError::custom(DATE_EXPECTED)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

const DATE_EXPECTED: &str = "expected a date as YYYY-MM-DD, years 1900 to 2200";

/// An instant, RFC 3339 with an offset (the contract's `DateTime`), within
/// the years the service accepts. Output exactly as async-graphql's chrono
/// scalar wrote it (`to_rfc3339`), so clients see no change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(instant: chrono::DateTime<Utc>) -> Self {
        Self(instant)
    }
}

/// An instant in RFC 3339 form with an offset, e.g. 2026-03-02T09:30:00Z;
/// years 1900 to 2200.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => text
                .parse::<chrono::DateTime<Utc>>()
                .ok()
                .filter(|instant| instant_in_bounds(*instant))
                .map(DateTime)
                .ok_or_else(|| InputValueError::custom(INSTANT_EXPECTED)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

const INSTANT_EXPECTED: &str =
    "expected an RFC 3339 date-time with an offset, e.g. 2026-03-02T09:30:00Z, years 1900 to 2200";
