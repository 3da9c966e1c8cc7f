//! When things are due: pure arithmetic over instants, no database.

use chrono::{DateTime, Duration, Utc};

/// A held session's participants are asked for feedback this long after
/// its end.
pub const FEEDBACK_AFTER: Duration = Duration::hours(24);
/// ...and no longer once this long has passed (a notifier switched on late
/// does not ask about sessions long forgotten).
pub const FEEDBACK_UNTIL: Duration = Duration::days(7);

/// First retry delay; each failure doubles it.
const FIRST_RETRY: Duration = Duration::minutes(1);
/// Longest delay between two attempts.
const LONGEST_RETRY: Duration = Duration::hours(6);

/// A reminder `lead_minutes` before a session starting at `starts_at` is
/// due at `now`: the lead has begun and the session has not.
pub fn reminder_due(starts_at: DateTime<Utc>, lead_minutes: i32, now: DateTime<Utc>) -> bool {
    let lead = Duration::minutes(i64::from(lead_minutes.max(0)));
    starts_at > now && starts_at.signed_duration_since(now) <= lead
}

/// A feedback request for a session held until `ends_at` is due at `now`.
pub fn feedback_request_due(ends_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let since = now.signed_duration_since(ends_at);
    since >= FEEDBACK_AFTER && since <= FEEDBACK_UNTIL
}

/// When a delivery that failed its `attempts`-th attempt (1 for the first)
/// is tried again: exponential backoff (1 min, 2, 4 … up to 6 h) with
/// jitter, `jitter` in [0, 1) drawn by the caller, taking away up to half
/// the delay so that replicas retrying a dead relay spread out.
pub fn retry_at(attempts: i32, now: DateTime<Utc>, jitter: f64) -> DateTime<Utc> {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let delay = FIRST_RETRY
        .checked_mul(1_i32 << doublings)
        .unwrap_or(LONGEST_RETRY)
        .min(LONGEST_RETRY);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let taken = (delay.num_milliseconds() as f64 * jitter / 2.0) as i64;
    now.checked_add_signed(delay - Duration::milliseconds(taken))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
            + Duration::minutes(minutes)
    }

    #[test]
    fn a_reminder_is_due_from_its_lead_until_the_session_starts() {
        let start = at(24 * 60);
        assert!(!reminder_due(start, 1440, at(-1)));
        assert!(reminder_due(start, 1440, at(0)));
        assert!(reminder_due(start, 1440, at(24 * 60 - 1)));
        assert!(!reminder_due(start, 1440, at(24 * 60)), "it started");
    }

    #[test]
    fn a_feedback_request_waits_a_day_and_stops_after_a_week() {
        let end = at(0);
        assert!(!feedback_request_due(end, at(23 * 60)));
        assert!(feedback_request_due(end, at(24 * 60)));
        assert!(feedback_request_due(end, at(7 * 24 * 60)));
        assert!(!feedback_request_due(end, at(7 * 24 * 60 + 1)));
    }

    #[test]
    fn retries_double_from_a_minute_up_to_six_hours() {
        let now = at(0);
        assert_eq!(retry_at(1, now, 0.0), at(1));
        assert_eq!(retry_at(2, now, 0.0), at(2));
        assert_eq!(retry_at(4, now, 0.0), at(8));
        assert_eq!(retry_at(12, now, 0.0), at(360));
        assert_eq!(retry_at(i32::MAX, now, 0.0), at(360));
    }

    #[test]
    fn jitter_takes_away_at_most_half_the_delay() {
        let now = at(0);
        let soonest = retry_at(2, now, 0.999_999);
        assert!(soonest >= at(1) && soonest < at(1) + Duration::seconds(1));
        assert!(retry_at(3, now, 0.5) > at(2) && retry_at(3, now, 0.5) < at(4));
        for bad in [f64::NAN, f64::INFINITY, -1.0, 7.0] {
            let later = retry_at(1, now, bad);
            assert!(
                later >= now + Duration::seconds(30) && later <= at(1),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_zero_or_negative_attempt_count_still_waits_a_minute() {
        assert_eq!(retry_at(0, at(0), 0.0), at(1));
        assert_eq!(retry_at(-5, at(0), 0.0), at(1));
    }
}
