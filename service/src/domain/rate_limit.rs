//! Rate limits per caller: the generic cell rate algorithm (GCRA), a token
//! bucket kept as one number, the theoretical arrival time (TAT) of the
//! next request. Pure arithmetic on milliseconds; where the TAT lives (Redis,
//! shared by replicas, or this process) is `crate::rate_limit`'s business.

/// A limit: `per_minute` requests, of which up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests a quiet caller may send at once.
    pub burst: u32,
}

impl Limit {
    /// `per_minute` with a burst of a quarter of it (at least one).
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute,
            burst: (per_minute / 4).max(1),
        }
    }

    /// Milliseconds between two requests at the sustained rate.
    pub fn interval_ms(self) -> i64 {
        60_000 / i64::from(self.per_minute.max(1))
    }

    /// How far ahead of its time a request may come (the burst).
    pub fn tolerance_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.burst.max(1) - 1)
    }
}

/// What GCRA decides for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Served; store this TAT.
    Allow { tat_ms: i64 },
    /// Refused; the caller may retry after this many milliseconds.
    Refuse { retry_after_ms: i64 },
}

/// GCRA at `now_ms` for a caller whose stored TAT is `tat_ms` (None: new).
pub fn decide(limit: Limit, tat_ms: Option<i64>, now_ms: i64) -> Decision {
    let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
    let allowed_from = tat - limit.tolerance_ms();
    if now_ms < allowed_from {
        return Decision::Refuse {
            retry_after_ms: allowed_from - now_ms,
        };
    }
    Decision::Allow {
        tat_ms: tat + limit.interval_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(limit: Limit, times: &[i64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|now| match decide(limit, tat, *now) {
                Decision::Allow { tat_ms } => {
                    tat = Some(tat_ms);
                    true
                }
                Decision::Refuse { .. } => false,
            })
            .collect()
    }

    #[test]
    fn a_quiet_caller_may_send_a_burst_at_once_then_is_refused() {
        let limit = Limit::per_minute(60); // one a second, burst 15
        let answers = run(limit, &[0; 20]);
        assert_eq!(answers.iter().filter(|a| **a).count(), 15);
        assert!(!answers[15]);
    }

    #[test]
    fn the_sustained_rate_is_always_served() {
        let limit = Limit::per_minute(60);
        let every_second: Vec<i64> = (0..100).map(|s| s * 1000).collect();
        assert!(run(limit, &every_second).iter().all(|a| *a));
    }

    #[test]
    fn a_refusal_says_when_to_come_back() {
        let limit = Limit {
            per_minute: 60,
            burst: 1,
        };
        assert_eq!(
            decide(limit, Some(1000), 0),
            Decision::Refuse {
                retry_after_ms: 1000
            }
        );
        assert_eq!(
            decide(limit, Some(1000), 1000),
            Decision::Allow { tat_ms: 2000 }
        );
    }

    #[test]
    fn an_old_tat_does_not_bank_unused_time_beyond_the_burst() {
        let limit = Limit::per_minute(60);
        let answers = run(limit, &[0, 1_000_000, 1_000_000, 1_000_000]);
        assert!(answers.iter().all(|a| *a));
        let after_long_quiet: Vec<i64> = std::iter::repeat_n(5_000_000, 20).collect();
        let mut tat = Some(0);
        let mut allowed = 0;
        for now in after_long_quiet {
            if let Decision::Allow { tat_ms } = decide(limit, tat, now) {
                tat = Some(tat_ms);
                allowed += 1;
            }
        }
        assert_eq!(allowed, 15, "a long silence earns one burst, no more");
    }
}
