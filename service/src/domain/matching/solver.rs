//! The assignment at the heart of the matcher: mentees to mentors with
//! capacities, maximising the total score — exactly, at company scale.
//!
//! 1. Candidates: every allowed pair is scored once; each mentee keeps its
//!    best `per_mentee` mentors and each mentor its best `per_slot × capacity`
//!    mentees (so mentors everybody wants cannot crowd the others out of
//!    the graph). Memory is proportional to the candidate pairs.
//! 2. Exact solve on the candidates: successive shortest augmenting paths
//!    (Dijkstra on reduced costs, stopping at the first free column, as in
//!    Jonker–Volgenant), each mentor's capacity as that many columns, and a
//!    private "unmatched" column per mentee.
//! 3. Certificate: the solve leaves LP duals. Every pair left out is checked
//!    against them; if none has a negative reduced cost, the assignment is
//!    optimal for the whole problem (LP duality; the assignment polytope is
//!    integral). Pairs that fail are added and the solve repeats.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Pairs a certificate round adds per mentee at most (the most negative
/// reduced costs): enough to converge in a few rounds, few enough to keep
/// the graph small when many pairs fail at first.
const VIOLATIONS_PER_MENTEE: usize = 4;

/// Scores are fixed-point integers of this many units (exact arithmetic).
pub const SCALE: i64 = 1_000_000;

/// Scores pairs; None when a hard constraint forbids the pair.
pub trait Scorer: Sync {
    /// The score in [0, 1] of `mentor` for `mentee`, if allowed.
    fn score(&self, mentee: usize, mentor: usize) -> Option<f64>;
}

/// How wide the candidate graph starts.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Best mentors kept per mentee.
    pub per_mentee: usize,
    /// Best mentees kept per unit of a mentor's capacity.
    pub per_slot: usize,
    /// Solve / certify rounds before giving up on the certificate.
    pub max_rounds: usize,
    /// Threads scoring pairs.
    pub threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            per_mentee: 12,
            per_slot: 8,
            max_rounds: 30,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The result of [`assign`].
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Each mentee's mentor, if matched.
    pub mentor_of: Vec<Option<usize>>,
    /// Sum of the matched pairs' scores.
    pub total_score: f64,
    /// Pairs in the final candidate graph.
    pub candidate_pairs: usize,
    /// Solve rounds run.
    pub rounds: usize,
    /// Whether LP duality proved the assignment optimal for all pairs.
    pub certified: bool,
}

fn cost_of(score: f64) -> i64 {
    SCALE - (score.clamp(0.0, 1.0) * SCALE as f64).round() as i64
}

/// Candidate edges, per mentee: (mentor, cost), sorted by mentor.
type Edges = Vec<Vec<(usize, i64)>>;

/// The exact maximum-score assignment of `mentees` to mentors with `capacities`.
pub fn assign<S: Scorer>(
    scorer: &S,
    mentees: usize,
    capacities: &[usize],
    settings: &Settings,
) -> Assignment {
    let mut edges = candidates(scorer, mentees, capacities, settings);
    let mut rounds = 0;
    loop {
        rounds += 1;
        let solved = solve(&edges, capacities);
        let violations = if rounds > settings.max_rounds {
            None
        } else {
            Some(violations(
                scorer,
                &edges,
                capacities,
                &solved,
                settings.threads,
            ))
        };
        let certified = violations.as_ref().is_some_and(Vec::is_empty);
        match violations {
            Some(extra) if !extra.is_empty() => {
                for (mentee, mentor, cost) in extra {
                    let list = &mut edges[mentee];
                    if let Err(at) = list.binary_search_by_key(&mentor, |e| e.0) {
                        list.insert(at, (mentor, cost));
                    }
                }
            }
            _ => {
                let total = solved
                    .mentor_of
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| {
                        let m = (*m)?;
                        let cost = edges[i][edges[i].binary_search_by_key(&m, |e| e.0).ok()?].1;
                        Some((SCALE - cost) as f64 / SCALE as f64)
                    })
                    .sum();
                return Assignment {
                    mentor_of: solved.mentor_of,
                    total_score: total,
                    candidate_pairs: edges.iter().map(Vec::len).sum(),
                    rounds,
                    certified,
                };
            }
        }
    }
}

/// Runs `work(range)` over `0..n` split across `threads`, in order.
fn parallel<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, 64).min(n.max(1));
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                scope.spawn(move || work(t * chunk..((t + 1) * chunk).min(n)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Keeps the `k` cheapest (cost, id) pairs; ties broken by id.
struct Best {
    k: usize,
    heap: BinaryHeap<(i64, usize)>,
}

impl Best {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::new(),
        }
    }

    fn offer(&mut self, cost: i64, id: usize) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push((cost, id));
        } else if self.heap.peek().is_some_and(|worst| (cost, id) < *worst) {
            self.heap.pop();
            self.heap.push((cost, id));
        }
    }
}

fn candidates<S: Scorer>(
    scorer: &S,
    mentees: usize,
    capacities: &[usize],
    settings: &Settings,
) -> Edges {
    let mentors = capacities.len();
    let parts = parallel(mentees, settings.threads, |rows| {
        let mut per_mentor: Vec<Best> = capacities
            .iter()
            .map(|c| Best::new(settings.per_slot * c))
            .collect();
        let mut per_row = Vec::with_capacity(rows.len());
        for i in rows.clone() {
            let mut best = Best::new(settings.per_mentee);
            for (m, capacity) in capacities.iter().enumerate() {
                if *capacity == 0 {
                    continue;
                }
                if let Some(score) = scorer.score(i, m) {
                    let cost = cost_of(score);
                    best.offer(cost, m);
                    per_mentor[m].offer(cost, i);
                }
            }
            per_row.push(best.heap.into_vec());
        }
        (rows, per_row, per_mentor)
    });
    let mut edges: Edges = vec![Vec::new(); mentees];
    let mut merged: Vec<Best> = capacities
        .iter()
        .map(|c| Best::new(settings.per_slot * c))
        .collect();
    for (rows, per_row, per_mentor) in parts {
        for (i, list) in rows.zip(per_row) {
            edges[i].extend(list.into_iter().map(|(cost, m)| (m, cost)));
        }
        for (m, best) in per_mentor.into_iter().enumerate().take(mentors) {
            for (cost, i) in best.heap {
                merged[m].offer(cost, i);
            }
        }
    }
    for (m, best) in merged.into_iter().enumerate() {
        for (cost, i) in best.heap {
            edges[i].push((m, cost));
        }
    }
    for list in &mut edges {
        list.sort_unstable();
        list.dedup_by_key(|e| e.0);
    }
    edges
}

/// A solved candidate graph with its duals.
struct Solved {
    mentor_of: Vec<Option<usize>>,
    /// Row duals: the reduced cost of each mentee's own column is 0.
    row_dual: Vec<i64>,
    /// Highest column dual among each mentor's slots.
    mentor_dual: Vec<i64>,
}

/// Exact min-cost assignment on the candidate graph (shortest augmenting paths).
fn solve(edges: &Edges, capacities: &[usize]) -> Solved {
    let rows = edges.len();
    let mut first_slot = Vec::with_capacity(capacities.len() + 1);
    let mut slots = 0;
    for c in capacities {
        first_slot.push(slots);
        slots += c;
    }
    first_slot.push(slots);
    let mentor_of_slot: Vec<usize> = (0..capacities.len())
        .flat_map(|m| std::iter::repeat_n(m, capacities[m]))
        .collect();
    // Columns: the slots, then one private "unmatched" column per mentee.
    let columns = slots + rows;
    let mut price = vec![0i64; columns];
    let mut row_of = vec![usize::MAX; columns];
    let mut column_of = vec![usize::MAX; rows];
    let mut cost_of_row = vec![0i64; rows];
    let mut dist = vec![i64::MAX; columns];
    let mut pred = vec![usize::MAX; columns];
    let mut done = vec![false; columns];
    let mut touched: Vec<usize> = Vec::new();
    let mut settled: Vec<usize> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();

    let cost = |row: usize, column: usize| -> i64 {
        if column >= slots {
            SCALE
        } else {
            let mentor = mentor_of_slot[column];
            edges[row]
                .binary_search_by_key(&mentor, |e| e.0)
                .map_or(i64::MAX / 4, |at| edges[row][at].1)
        }
    };

    for start in 0..rows {
        for j in touched.drain(..) {
            dist[j] = i64::MAX;
            pred[j] = usize::MAX;
            done[j] = false;
        }
        settled.clear();
        heap.clear();
        let relax = |row: usize,
                     base: i64,
                     dist: &mut Vec<i64>,
                     pred: &mut Vec<usize>,
                     touched: &mut Vec<usize>,
                     heap: &mut BinaryHeap<Reverse<(i64, usize)>>,
                     price: &Vec<i64>| {
            let own = slots + row;
            let mut visit = |j: usize, c: i64| {
                let d = base + c - price[j];
                if d < dist[j] {
                    if dist[j] == i64::MAX {
                        touched.push(j);
                    }
                    dist[j] = d;
                    pred[j] = row;
                    heap.push(Reverse((d, j)));
                }
            };
            for &(mentor, c) in &edges[row] {
                for j in first_slot[mentor]..first_slot[mentor + 1] {
                    visit(j, c);
                }
            }
            visit(own, SCALE);
        };
        relax(
            start,
            0,
            &mut dist,
            &mut pred,
            &mut touched,
            &mut heap,
            &price,
        );
        let mut end = usize::MAX;
        while let Some(Reverse((d, j))) = heap.pop() {
            if done[j] || d > dist[j] {
                continue;
            }
            done[j] = true;
            if row_of[j] == usize::MAX {
                end = j;
                break;
            }
            settled.push(j);
            let row = row_of[j];
            // Reduced cost of the row's own column is 0: continue from it.
            let base = d - (cost_of_row[row] - price[j]);
            relax(
                row,
                base,
                &mut dist,
                &mut pred,
                &mut touched,
                &mut heap,
                &price,
            );
        }
        if end == usize::MAX {
            continue; // cannot happen: the private column is always free
        }
        let shortest = dist[end];
        for &j in &settled {
            price[j] += dist[j] - shortest;
        }
        let mut column = end;
        loop {
            let row = pred[column];
            let previous = column_of[row];
            column_of[row] = column;
            row_of[column] = row;
            cost_of_row[row] = cost(row, column);
            if row == start {
                break;
            }
            column = previous;
        }
    }
    let mentor_of = column_of
        .iter()
        .map(|&j| (j < slots).then(|| mentor_of_slot[j]))
        .collect();
    let row_dual = (0..rows)
        .map(|i| cost_of_row[i] - price.get(column_of[i]).copied().unwrap_or(0))
        .collect();
    let mentor_dual = (0..capacities.len())
        .map(|m| {
            (first_slot[m]..first_slot[m + 1])
                .map(|j| price[j])
                .max()
                .unwrap_or(0)
        })
        .collect();
    Solved {
        mentor_of,
        row_dual,
        mentor_dual,
    }
}

/// Allowed pairs outside the candidate graph whose reduced cost is
/// negative: each could improve the assignment. Empty = proof of optimality.
fn violations<S: Scorer>(
    scorer: &S,
    edges: &Edges,
    capacities: &[usize],
    solved: &Solved,
    threads: usize,
) -> Vec<(usize, usize, i64)> {
    parallel(edges.len(), threads, |rows| {
        let mut found = Vec::new();
        for i in rows {
            let mut worst = Best::new(VIOLATIONS_PER_MENTEE);
            let mut listed = edges[i].iter().map(|e| e.0).peekable();
            for (m, capacity) in capacities.iter().enumerate() {
                if listed.peek() == Some(&m) {
                    listed.next();
                    continue;
                }
                if *capacity == 0 {
                    continue;
                }
                // Cheap bound first: a pair can only help if its cost is below this.
                let threshold = solved.row_dual[i] + solved.mentor_dual[m];
                if threshold <= 0 {
                    continue;
                }
                if let Some(score) = scorer.score(i, m) {
                    let cost = cost_of(score);
                    if cost < threshold {
                        worst.offer(cost - threshold, m);
                    }
                }
            }
            for (_, m) in worst.heap {
                if let Some(score) = scorer.score(i, m) {
                    found.push((i, m, cost_of(score)));
                }
            }
        }
        found
    })
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores from a table; None = forbidden.
    struct Table(Vec<Vec<Option<f64>>>);

    impl Scorer for Table {
        fn score(&self, mentee: usize, mentor: usize) -> Option<f64> {
            self.0[mentee][mentor]
        }
    }

    /// The exact optimum by trying every assignment (small instances).
    fn brute_force(table: &Table, capacities: &[usize]) -> i64 {
        fn go(i: usize, table: &Table, left: &mut Vec<usize>) -> i64 {
            if i == table.0.len() {
                return 0;
            }
            let mut best = go(i + 1, table, left);
            for m in 0..left.len() {
                if left[m] == 0 {
                    continue;
                }
                if let Some(s) = table.0[i][m] {
                    left[m] -= 1;
                    best = best.max(SCALE - cost_of(s) + go(i + 1, table, left));
                    left[m] += 1;
                }
            }
            best
        }
        go(0, table, &mut capacities.to_vec())
    }

    fn total(table: &Table, assignment: &Assignment) -> i64 {
        assignment
            .mentor_of
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.map(|m| SCALE - cost_of(table.0[i][m].unwrap_or(-1.0))))
            .sum()
    }

    fn narrow() -> Settings {
        Settings {
            per_mentee: 1,
            per_slot: 0,
            max_rounds: 20,
            threads: 2,
        }
    }

    #[test]
    fn the_greedy_trap_is_avoided() {
        // Mentor A suits mentees 1 and 2; mentor B only mentee 1. Greedy
        // gives 1 to A (best pair) and leaves 2 alone.
        let table = Table(vec![vec![Some(0.9), Some(0.8)], vec![Some(0.85), None]]);
        let result = assign(&table, 2, &[1, 1], &Settings::default());
        assert_eq!(result.mentor_of, vec![Some(1), Some(0)]);
        assert!(result.certified);
        assert!((result.total_score - 1.65).abs() < 1e-9);
    }

    #[test]
    fn capacities_and_forbidden_pairs_hold() {
        let table = Table(vec![vec![Some(0.5), None]; 5]);
        let result = assign(&table, 5, &[2, 3], &Settings::default());
        assert_eq!(
            result.mentor_of.iter().filter(|m| **m == Some(0)).count(),
            2
        );
        assert_eq!(result.mentor_of.iter().filter(|m| m.is_none()).count(), 3);
    }

    #[test]
    fn a_too_narrow_graph_is_widened_until_certified() {
        // Everyone's single best mentor is mentor 0 (capacity 1).
        let table = Table(vec![vec![Some(0.9), Some(0.5), Some(0.4)]; 3]);
        let result = assign(&table, 3, &[1, 1, 1], &narrow());
        assert!(result.certified);
        assert!(result.rounds > 1, "the first graph was not enough");
        assert_eq!(total(&table, &result), brute_force(&table, &[1, 1, 1]));
    }

    /// A small deterministic generator (no dependency needed here).
    fn random_table(seed: u64, mentees: usize, mentors: usize) -> Table {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        Table(
            (0..mentees)
                .map(|_| {
                    (0..mentors)
                        .map(|_| {
                            let x = next();
                            (x > 0.25).then(|| (next() * 100.0).round() / 100.0)
                        })
                        .collect()
                })
                .collect(),
        )
    }

    #[test]
    fn random_small_instances_reach_the_exact_optimum() {
        for seed in 0..300 {
            let mentees = 1 + (seed % 7) as usize;
            let mentors = 1 + (seed % 4) as usize;
            let capacities: Vec<usize> =
                (0..mentors).map(|m| 1 + (seed as usize + m) % 2).collect();
            let table = random_table(seed, mentees, mentors);
            for settings in [Settings::default(), narrow()] {
                let result = assign(&table, mentees, &capacities, &settings);
                assert!(result.certified, "seed {seed}");
                assert_eq!(
                    total(&table, &result),
                    brute_force(&table, &capacities),
                    "seed {seed}"
                );
            }
        }
    }
}
