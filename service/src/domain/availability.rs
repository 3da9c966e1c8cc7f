//! Availability as interval arithmetic: pure functions, no database.
//!
//! Weekly slots are stored in the employee's own IANA zone and expanded to
//! UTC day by day, so a Tuesday 09:00 Paris slot follows the clock changes
//! (08:00 UTC in winter, 07:00 UTC in summer). Free time is the expansion
//! minus busy intervals; common slots intersect several people's free time.
//!
//! Every step on the calendar is `checked_*`: near chrono's limits (years
//! ±262,000) a step that does not exist ends the expansion instead of
//! panicking. Inputs are bounded long before that ([`super::time`]); this
//! makes the arithmetic safe on its own, whatever calls it.

use chrono::Offset as _;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// A half-open UTC interval `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end (after `start`).
    pub end: DateTime<Utc>,
}

impl Interval {
    /// The interval, if `end` is after `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (end > start).then_some(Self { start, end })
    }

    fn duration(&self) -> Duration {
        self.end - self.start
    }
}

/// A recurring weekly slot in local time: `start_minute..end_minute` after
/// local midnight (end may be 1440, i.e. 24:00).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklySlot {
    /// Day of the week, local.
    pub weekday: Weekday,
    /// Minutes after local midnight, 0..1440.
    pub start_minute: u32,
    /// Minutes after local midnight, start_minute+1..=1440.
    pub end_minute: u32,
}

/// The UTC instant of a local wall-clock time. In a spring-forward gap the
/// time does not exist: the first valid instant after it is used; in an
/// autumn overlap the earlier of the two instants is used.
fn local_to_utc(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward minute by minute (gaps are at most a few hours).
            (1..=240)
                .find_map(|m| {
                    let later = local.checked_add_signed(Duration::minutes(m))?;
                    zone.from_local_datetime(&later).earliest()
                })
                .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
        }
    }
}

fn at_minute(day: NaiveDate, minute: u32) -> Option<NaiveDateTime> {
    day.and_time(NaiveTime::MIN)
        .checked_add_signed(Duration::minutes(minute.into()))
}

/// The local date of an instant in `zone` (its UTC date where the local
/// time would fall outside chrono's range: `with_timezone` panics there).
fn local_date(zone: Tz, instant: DateTime<Utc>) -> NaiveDate {
    let utc = instant.naive_utc();
    let offset = zone.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_offset(offset)
        .map_or_else(|| utc.date(), |local| local.date())
}

/// Expands weekly slots in `zone` over `window`, clipped to it, sorted and merged.
pub fn expand_weekly(slots: &[WeeklySlot], zone: Tz, window: Interval) -> Vec<Interval> {
    let first = local_date(zone, window.start);
    let last = local_date(zone, window.end);
    let first_day = first.pred_opt().unwrap_or(first);
    let last_day = last.succ_opt().unwrap_or(last);
    let mut expanded = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        for slot in slots.iter().filter(|s| s.weekday == day.weekday()) {
            let (Some(start), Some(end)) = (
                at_minute(day, slot.start_minute),
                at_minute(day, slot.end_minute),
            ) else {
                continue;
            };
            let (start, end) = (local_to_utc(zone, start), local_to_utc(zone, end));
            if let Some(clipped) = Interval::new(start.max(window.start), end.min(window.end)) {
                expanded.push(clipped);
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    normalize(expanded)
}

/// Sorts intervals and merges those that overlap or touch.
pub fn normalize(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        match merged.last_mut() {
            Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
            _ => merged.push(interval),
        }
    }
    merged
}

/// `free` minus every `busy` interval.
pub fn subtract(free: &[Interval], busy: &[Interval]) -> Vec<Interval> {
    let busy = normalize(busy.to_vec());
    let mut result = Vec::new();
    for interval in normalize(free.to_vec()) {
        let mut cursor = interval.start;
        for block in busy
            .iter()
            .filter(|b| b.end > interval.start && b.start < interval.end)
        {
            if let Some(piece) = Interval::new(cursor, block.start.min(interval.end)) {
                result.push(piece);
            }
            cursor = cursor.max(block.end);
        }
        if let Some(rest) = Interval::new(cursor, interval.end) {
            result.push(rest);
        }
    }
    result
}

/// The time free in both `a` and `b`.
pub fn intersect(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let (a, b) = (normalize(a.to_vec()), normalize(b.to_vec()));
    let (mut i, mut j) = (0, 0);
    let mut result = Vec::new();
    while i < a.len() && j < b.len() {
        if let Some(both) = Interval::new(a[i].start.max(b[j].start), a[i].end.min(b[j].end)) {
            result.push(both);
        }
        if a[i].end < b[j].end { i += 1 } else { j += 1 }
    }
    result
}

/// Rounds up to the next quarter hour (or keeps an exact one).
fn align_to_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let quarter = 15 * 60;
    let seconds = t.timestamp();
    let rounded = (seconds + quarter - 1).div_euclid(quarter) * quarter;
    let aligned = DateTime::from_timestamp(rounded, 0).unwrap_or(t);
    if t.timestamp_subsec_nanos() > 0 && rounded == seconds {
        aligned
            .checked_add_signed(Duration::minutes(15))
            .unwrap_or(aligned)
    } else {
        aligned
    }
}

/// The soonest slots of `duration` free for everyone, starting on quarter
/// hours, back to back within each common free interval, at most `limit`.
pub fn common_slots(
    free_per_person: &[Vec<Interval>],
    duration: Duration,
    limit: usize,
) -> Vec<Interval> {
    let Some((first, rest)) = free_per_person.split_first() else {
        return Vec::new();
    };
    let common = rest
        .iter()
        .fold(normalize(first.clone()), |acc, free| intersect(&acc, free));
    let step = Duration::minutes(((duration.num_minutes() + 14) / 15).max(1) * 15);
    let mut slots = Vec::new();
    for interval in common.iter().filter(|i| i.duration() >= duration) {
        let mut start = align_to_quarter(interval.start);
        while slots.len() < limit {
            let Some(end) = start.checked_add_signed(duration) else {
                break;
            };
            if end > interval.end {
                break;
            }
            slots.push(Interval { start, end });
            let Some(next) = start.checked_add_signed(step) else {
                break;
            };
            start = next;
        }
        if slots.len() >= limit {
            break;
        }
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn window(from: &str, to: &str) -> Interval {
        Interval::new(utc(from), utc(to)).unwrap()
    }

    fn slot(weekday: Weekday, start: &str, end: &str) -> WeeklySlot {
        let minutes = |t: &str| {
            let (h, m) = t.split_once(':').unwrap();
            h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
        };
        WeeklySlot {
            weekday,
            start_minute: minutes(start),
            end_minute: minutes(end),
        }
    }

    #[test]
    fn a_paris_slot_follows_the_european_clock_change() {
        let slots = [slot(Weekday::Tue, "09:00", "10:00")];
        let expanded = expand_weekly(
            &slots,
            chrono_tz::Europe::Paris,
            window("2027-03-22T00:00:00Z", "2027-04-01T00:00:00Z"),
        );
        let starts: Vec<DateTime<Utc>> = expanded.iter().map(|i| i.start).collect();
        assert_eq!(
            starts,
            [utc("2027-03-23T08:00:00Z"), utc("2027-03-30T07:00:00Z")]
        );
    }

    #[test]
    fn a_new_york_slot_follows_the_north_american_clock_change() {
        let slots = [slot(Weekday::Tue, "09:00", "10:00")];
        let expanded = expand_weekly(
            &slots,
            chrono_tz::America::New_York,
            window("2027-03-08T00:00:00Z", "2027-03-18T00:00:00Z"),
        );
        let starts: Vec<DateTime<Utc>> = expanded.iter().map(|i| i.start).collect();
        assert_eq!(
            starts,
            [utc("2027-03-09T14:00:00Z"), utc("2027-03-16T13:00:00Z")]
        );
    }

    #[test]
    fn a_slot_can_cross_midnight_in_utc() {
        let slots = [slot(Weekday::Mon, "07:00", "09:00")];
        let expanded = expand_weekly(
            &slots,
            chrono_tz::Asia::Singapore,
            window("2027-01-03T00:00:00Z", "2027-01-05T00:00:00Z"),
        );
        assert_eq!(
            expanded,
            [window("2027-01-03T23:00:00Z", "2027-01-04T01:00:00Z")]
        );
    }

    #[test]
    fn half_hour_offsets_are_kept() {
        let slots = [slot(Weekday::Wed, "09:00", "09:45")];
        let expanded = expand_weekly(
            &slots,
            chrono_tz::Asia::Kolkata,
            window("2027-01-04T00:00:00Z", "2027-01-08T00:00:00Z"),
        );
        assert_eq!(
            expanded,
            [window("2027-01-06T03:30:00Z", "2027-01-06T04:15:00Z")]
        );
    }

    #[test]
    fn a_slot_in_the_spring_forward_gap_starts_when_the_clock_resumes() {
        let slots = [slot(Weekday::Sun, "02:30", "04:00")];
        let expanded = expand_weekly(
            &slots,
            chrono_tz::Europe::Paris,
            window("2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z"),
        );
        assert_eq!(
            expanded,
            [window("2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z")]
        );
    }

    #[test]
    fn a_slot_ending_at_midnight_and_the_window_clips() {
        let slots = [slot(Weekday::Fri, "22:00", "24:00")];
        let expanded = expand_weekly(
            &slots,
            chrono_tz::UTC,
            window("2027-01-01T23:00:00Z", "2027-01-02T12:00:00Z"),
        );
        assert_eq!(
            expanded,
            [window("2027-01-01T23:00:00Z", "2027-01-02T00:00:00Z")]
        );
    }

    #[test]
    fn subtracting_busy_time_splits_free_time() {
        let free = [window("2027-01-04T09:00:00Z", "2027-01-04T12:00:00Z")];
        let busy = [
            window("2027-01-04T10:00:00Z", "2027-01-04T10:30:00Z"),
            window("2027-01-04T11:45:00Z", "2027-01-04T13:00:00Z"),
        ];
        assert_eq!(
            subtract(&free, &busy),
            [
                window("2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z"),
                window("2027-01-04T10:30:00Z", "2027-01-04T11:45:00Z")
            ]
        );
        assert_eq!(
            subtract(
                &free,
                &[window("2027-01-04T08:00:00Z", "2027-01-04T13:00:00Z")]
            ),
            []
        );
    }

    #[test]
    fn common_slots_are_the_soonest_quarter_hours_free_for_everyone() {
        let paris = expand_weekly(
            &[slot(Weekday::Tue, "09:00", "12:00")],
            chrono_tz::Europe::Paris,
            window("2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"),
        );
        let new_york = expand_weekly(
            &[slot(Weekday::Tue, "05:10", "08:00")],
            chrono_tz::America::New_York,
            window("2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"),
        );
        // Paris 08:00–11:00 UTC, New York 10:10–13:00 UTC: common 10:10–11:00 UTC.
        let slots = common_slots(&[paris.clone(), new_york], Duration::minutes(30), 5);
        assert_eq!(
            slots,
            [window("2027-01-05T10:15:00Z", "2027-01-05T10:45:00Z")]
        );
        let hours = common_slots(&[paris], Duration::minutes(60), 2);
        assert_eq!(
            hours,
            [
                window("2027-01-05T08:00:00Z", "2027-01-05T09:00:00Z"),
                window("2027-01-05T09:00:00Z", "2027-01-05T10:00:00Z")
            ]
        );
    }

    #[test]
    fn merging_keeps_intervals_disjoint_and_sorted() {
        let merged = normalize(vec![
            window("2027-01-04T11:00:00Z", "2027-01-04T12:00:00Z"),
            window("2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z"),
            window("2027-01-04T09:30:00Z", "2027-01-04T11:00:00Z"),
        ]);
        assert_eq!(
            merged,
            [window("2027-01-04T09:00:00Z", "2027-01-04T12:00:00Z")]
        );
    }

    mod whole_range {
        use super::*;
        use proptest::prelude::*;

        const ZONES: [Tz; 4] = [
            chrono_tz::Europe::Paris,
            chrono_tz::America::New_York,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Pacific::Chatham,
        ];

        fn every_day(start_minute: u32, end_minute: u32) -> Vec<WeeklySlot> {
            (0u8..7)
                .filter_map(|day| Weekday::try_from(day).ok())
                .map(|weekday| WeeklySlot {
                    weekday,
                    start_minute,
                    end_minute,
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Any window chrono can represent, up to the longest one the API
            /// allows, at its very edges included: expansion, subtraction and
            /// common slots answer, never panic.
            #[test]
            fn no_window_in_chronos_whole_range_panics(
                start in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
                at_an_edge in 0u8..3,
                span_minutes in 1i64..=(92 * 1440),
                zone in 0usize..ZONES.len(),
                duration in 15i64..=240,
                slot_start in 0u32..1380,
            ) {
                let start = match at_an_edge {
                    0 => DateTime::<Utc>::MIN_UTC.timestamp(),
                    1 => DateTime::<Utc>::MAX_UTC.timestamp() - span_minutes * 60,
                    _ => start,
                };
                let Some(start) = DateTime::from_timestamp(start, 0) else {
                    return Ok(());
                };
                let end = start
                    .checked_add_signed(Duration::minutes(span_minutes))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                if let Some(window) = Interval::new(start, end) {
                    let slots = every_day(slot_start, slot_start + 60);
                    let free = expand_weekly(&slots, ZONES[zone], window);
                    prop_assert!(free.iter().all(|i| i.start >= window.start && i.end <= window.end));
                    let busy = vec![window];
                    prop_assert!(subtract(&free, &busy).is_empty());
                    let common = common_slots(&[free.clone(), free], Duration::minutes(duration), 5);
                    prop_assert!(common.len() <= 5);
                }
            }
        }
    }
}
