//! Benchmark of the matcher's assignment (`domain::matching::solver::assign`
//! over the real scoring of `domain::matching::Problem`): time, peak
//! memory and quality against the exact optimum, on two score shapes —
//! similarity-like (people with random skills, hours, departments, zones),
//! and the same with a few universally attractive mentors (every skill at
//! the top level, free all week) — next to a greedy matcher (best pair
//! first) on the same instances.
//!
//! The exact optimum for n = 200 and 2,000 comes from a dense exact solver
//! (`lsap`, SciPy's shortest augmenting path) over the full score matrix.
//! At 6,000 × 3,000 the dense matrix is out of reach; the matcher's own LP
//! certificate says whether its answer is optimal.
//!
//! ```text
//! cargo run --release -p tandem-tests --example matcher
//! ```

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Instant;

use entity::enums::Generation;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tandem::domain::matching::solver::{self, SCALE, Settings};
use tandem::domain::matching::{Mentee, Mentor, Person, Problem, Week, Weights};
use uuid::Uuid;

const SKILLS: usize = 14;

fn person(rng: &mut StdRng, n: u128, mentor: bool) -> Person {
    let mut week = Week::default();
    for day in 0..5 {
        let start = day * 96 + rng.random_range(28..48);
        for q in start..start + rng.random_range(8..24) {
            week.set(q);
        }
    }
    Person {
        id: Uuid::from_u128(n),
        name: format!("P{n}"),
        seniority: Some(if mentor {
            rng.random_range(1..=4)
        } else {
            rng.random_range(5..=12)
        }),
        department: Some((
            Uuid::from_u128(1_000_000 + rng.random_range(0..40)),
            "D".into(),
        )),
        generation: if mentor {
            Generation::GenZ
        } else {
            [Generation::GenX, Generation::BabyBoomer, Generation::GenY][rng.random_range(0..3)]
        },
        utc_offset_minutes: [0, 60, 60, 60, -300, 330][rng.random_range(0..6)],
        chain: Vec::new(),
        week,
    }
}

/// `mentees` mentees, half as many mentors of capacity 2; with
/// `attractive`, 1 % of the mentors suit everybody.
fn instance(mentees: usize, attractive: bool, seed: u64) -> Problem {
    let mut rng = StdRng::seed_from_u64(seed);
    let mentor_count = mentees / 2;
    let mentors: Vec<Mentor> = (0..mentor_count)
        .map(|i| {
            let mut offers = vec![0u8; SKILLS];
            for _ in 0..3 {
                offers[rng.random_range(0..SKILLS)] = rng.random_range(1..=4);
            }
            let mut person = person(&mut rng, i as u128, true);
            if attractive && i % 100 == 0 {
                offers = vec![4; SKILLS];
                for q in 0..tandem::domain::matching::QUARTERS {
                    person.week.set(q);
                }
            }
            Mentor {
                person,
                capacity: 2,
                offers,
            }
        })
        .collect();
    let mentees: Vec<Mentee> = (0..mentees)
        .map(|i| {
            let wants = (0..3)
                .map(|_| (rng.random_range(0..SKILLS), rng.random_range(1..=4)))
                .collect();
            Mentee {
                person: person(&mut rng, 10_000_000 + i as u128, false),
                wants,
            }
        })
        .collect();
    Problem {
        mentors,
        mentees,
        declined: HashSet::new(),
        skill_names: (0..SKILLS).map(|i| format!("skill {i}")).collect(),
        session_minutes: 60,
        group: false,
        weights: Weights::default(),
    }
}

fn quantised(score: f64) -> i64 {
    (score * SCALE as f64).round() as i64
}

/// Greedy: every allowed pair, best first, taken while both sides can.
fn greedy(p: &Problem) -> i64 {
    let mut pairs: Vec<(i64, u32, u32)> = Vec::new();
    for e in 0..p.mentees.len() {
        for m in 0..p.mentors.len() {
            if let Some(s) = p.score(e, m) {
                pairs.push((quantised(s), e as u32, m as u32));
            }
        }
    }
    pairs.sort_unstable_by(|a, b| b.cmp(a));
    let mut left: Vec<usize> = p.mentors.iter().map(|m| m.capacity).collect();
    let mut placed = vec![false; p.mentees.len()];
    let mut total = 0;
    for (s, e, m) in pairs {
        if !placed[e as usize] && left[m as usize] > 0 {
            placed[e as usize] = true;
            left[m as usize] -= 1;
            total += s;
        }
    }
    total
}

/// The exact optimum with a dense solver: rows = mentees; columns = every
/// mentor place, then one "unmatched" column per mentee.
fn exact(p: &Problem) -> i64 {
    let slots: Vec<usize> = p
        .mentors
        .iter()
        .enumerate()
        .flat_map(|(m, x)| std::iter::repeat_n(m, x.capacity))
        .collect();
    let (rows, columns) = (p.mentees.len(), slots.len() + p.mentees.len());
    let mut matrix = vec![-1e12; rows * columns];
    for e in 0..rows {
        for (j, m) in slots.iter().enumerate() {
            if let Some(s) = p.score(e, *m) {
                matrix[e * columns + j] = quantised(s) as f64;
            }
        }
        matrix[e * columns + slots.len() + e] = 0.0;
    }
    lsap::get_assigned_cost(rows, columns, &matrix, true)
        .unwrap()
        .round() as i64
}

/// Peak resident memory since the last reset, in MiB (Linux).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn measure<T>(work: impl FnOnce() -> T) -> (T, f64, f64) {
    reset_peak();
    let before = peak_mib();
    let started = Instant::now();
    let result = work();
    (
        result,
        started.elapsed().as_secs_f64(),
        (peak_mib() - before).max(0.0),
    )
}

fn main() {
    println!(
        "| mentees × mentors (cap 2) | shape | matcher | matcher peak | certified | candidates | greedy | exact (dense) | matcher ÷ exact | greedy ÷ exact |"
    );
    println!("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for n in [200, 2_000, 6_000] {
        for attractive in [false, true] {
            let p = instance(n, attractive, 7 + n as u64);
            let capacities: Vec<usize> = p.mentors.iter().map(|m| m.capacity).collect();
            let (outcome, time, memory) =
                measure(|| solver::assign(&p, p.mentees.len(), &capacities, &Settings::default()));
            let ours: i64 = outcome
                .mentor_of
                .iter()
                .enumerate()
                .filter_map(|(e, m)| Some(quantised(p.score(e, (*m)?)?)))
                .sum();
            let (greedy_total, greedy_time, _) = measure(|| greedy(&p));
            let exact_figures = (n <= 2_000).then(|| measure(|| exact(&p)));
            let (exact_cell, ours_ratio, greedy_ratio) = match &exact_figures {
                Some((optimum, t, mem)) => (
                    format!("{t:.2} s, {mem:.0} MiB"),
                    format!("{:.5}", ours as f64 / *optimum as f64),
                    format!("{:.4}", greedy_total as f64 / *optimum as f64),
                ),
                None => (
                    "—".into(),
                    "—".into(),
                    format!("{:.4} of the matcher", greedy_total as f64 / ours as f64),
                ),
            };
            println!(
                "| {n} × {} | {} | {time:.2} s | {memory:.0} MiB | {} | {} | {greedy_time:.2} s | {exact_cell} | {ours_ratio} | {greedy_ratio} |",
                n / 2,
                if attractive {
                    "attractive mentors"
                } else {
                    "similarity"
                },
                if outcome.certified { "yes" } else { "no" },
                outcome.candidate_pairs,
            );
        }
    }
}
