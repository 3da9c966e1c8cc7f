//! The span of time the service reasons about. Inputs outside it are refused
//! at the edge (the GraphQL scalars, the HRIS and SCIM readers), so no
//! arithmetic on a date a client sent can reach chrono's limits, where its
//! operators panic. Arithmetic inside the domain still uses `checked_*`.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};

/// The earliest year of any date or instant accepted.
pub const EARLIEST_YEAR: i32 = 1900;
/// The latest year of any date or instant accepted.
pub const LATEST_YEAR: i32 = 2200;

/// Whether a calendar date lies within the accepted years.
pub fn date_in_bounds(date: NaiveDate) -> bool {
    (EARLIEST_YEAR..=LATEST_YEAR).contains(&date.year())
}

/// Whether an instant lies within the accepted years (in UTC).
pub fn instant_in_bounds(instant: DateTime<Utc>) -> bool {
    date_in_bounds(instant.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_inclusive_years() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        assert!(date_in_bounds(date(1900, 1, 1)));
        assert!(date_in_bounds(date(2200, 12, 31)));
        assert!(!date_in_bounds(date(1899, 12, 31)));
        assert!(!date_in_bounds(date(2201, 1, 1)));
        assert!(!instant_in_bounds(DateTime::<Utc>::MAX_UTC));
        assert!(!instant_in_bounds(DateTime::<Utc>::MIN_UTC));
    }
}
