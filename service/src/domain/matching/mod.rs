//! The matcher: proposes mentor–mentee pairings for a programme, as a pure
//! function over plain structs ([`propose`]); `run` loads and stores them.
//!
//! Hard constraints: the pairing rules every pairing obeys
//! ([`rules`](crate::domain::pairings::rules): reverse mentoring, the
//! management chain, places); a pair an admin declined is never proposed
//! again; in GROUP format a group shares a common weekly hour.
//! Score in [0, 1]: a weighted mean of skill coverage, weekly availability
//! overlap, cross-department, time-zone closeness and generation gap, each
//! reported as a reason. The assignment maximises the total score exactly
//! ([`solver`]); the group availability rule is enforced by excluding a
//! group's weakest member and solving again (a heuristic: that rule alone
//! makes the problem NP-hard).

pub mod run;
pub mod solver;

use std::collections::HashSet;

use entity::enums::{Generation, ProgrammeFormat};
use uuid::Uuid;

use crate::domain::pairings::rules::{self, Refusal, Side};

/// Quarter hours in a week, as a bitset from Monday 00:00 UTC.
pub const QUARTERS: usize = 7 * 96;
const WORDS: usize = QUARTERS.div_ceil(64);

/// A weekly pattern in UTC quarter hours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Week([u64; WORDS]);

impl Week {
    /// Marks quarter `q` (0 = Monday 00:00–00:15 UTC) free.
    pub fn set(&mut self, q: usize) {
        if q < QUARTERS {
            self.0[q / 64] |= 1 << (q % 64);
        }
    }

    /// Time free in both.
    pub fn and(&self, other: &Week) -> Week {
        let mut both = *self;
        for (a, b) in both.0.iter_mut().zip(other.0) {
            *a &= b;
        }
        both
    }

    /// Free quarter hours.
    pub fn quarters(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Whether `run` consecutive quarters are free (wrapping Sunday → Monday).
    /// Walks runs of bits a word at a time: it sits in the matcher's inner loop.
    pub fn has_run(&self, run: usize) -> bool {
        if run == 0 {
            return true;
        }
        let last_bits = QUARTERS - 64 * (WORDS - 1);
        let mut length = 0usize;
        for lap in 0..2 {
            for (i, word) in self.0.iter().enumerate() {
                let mut bits = *word;
                let mut remaining = if i == WORDS - 1 { last_bits } else { 64 };
                while remaining > 0 {
                    let ones = (bits.trailing_ones() as usize).min(remaining);
                    if ones > 0 {
                        length += ones;
                        if length >= run {
                            return true;
                        }
                    } else {
                        let zeros = (bits.trailing_zeros() as usize).min(remaining);
                        length = 0;
                        if lap == 1 {
                            return false; // the second lap only finishes a wrapping run
                        }
                        bits = bits.checked_shr(zeros as u32).unwrap_or(0);
                        remaining -= zeros;
                        continue;
                    }
                    bits = bits.checked_shr(ones as u32).unwrap_or(0);
                    remaining -= ones;
                }
            }
        }
        false
    }
}

/// What the matcher knows of a person.
#[derive(Clone, Debug)]
pub struct Person {
    /// Employee id.
    pub id: Uuid,
    /// Display name, for reasons.
    pub name: String,
    /// 1 (junior) to 12.
    pub seniority: Option<i32>,
    /// Department id and name.
    pub department: Option<(Uuid, String)>,
    /// Generation.
    pub generation: Generation,
    /// Current offset from UTC.
    pub utc_offset_minutes: i32,
    /// Managers up the chain, nearest first, as deep as the excluded depth.
    pub chain: Vec<Uuid>,
    /// Weekly availability.
    pub week: Week,
}

impl Person {
    /// What the pairing rules look at.
    fn side(&self) -> Side<'_> {
        Side {
            id: self.id,
            seniority: self.seniority,
            chain: &self.chain,
        }
    }
}

/// A mentor and what they offer.
#[derive(Clone, Debug)]
pub struct Mentor {
    /// Who.
    pub person: Person,
    /// Places left.
    pub capacity: usize,
    /// Offered level (0 = not offered) per skill index.
    pub offers: Vec<u8>,
}

/// A mentee and what they want.
#[derive(Clone, Debug)]
pub struct Mentee {
    /// Who.
    pub person: Person,
    /// (skill index, wanted level 1–4).
    pub wants: Vec<(usize, u8)>,
}

/// Relative weights of the score's terms (normalised when used).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Skill coverage.
    pub skills: f64,
    /// Weekly availability overlap.
    pub availability: f64,
    /// Different departments.
    pub department: f64,
    /// Close time zones.
    pub timezone: f64,
    /// Generation gap.
    pub generation: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            skills: 0.4,
            availability: 0.2,
            department: 0.15,
            timezone: 0.15,
            generation: 0.1,
        }
    }
}

/// One matching problem.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Eligible mentors with their remaining places.
    pub mentors: Vec<Mentor>,
    /// Mentees to place.
    pub mentees: Vec<Mentee>,
    /// (mentor, mentee) pairs declined before.
    pub declined: HashSet<(Uuid, Uuid)>,
    /// Skill names by index, for reasons.
    pub skill_names: Vec<String>,
    /// Session length the availability must hold.
    pub session_minutes: u32,
    /// GROUP format: a mentor's mentees form one group.
    pub group: bool,
    /// Term weights.
    pub weights: Weights,
}

/// One term of a score, explained.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// SKILL_COVERAGE, AVAILABILITY_OVERLAP, CROSS_DEPARTMENT, TIMEZONE, GENERATION_GAP.
    pub kind: &'static str,
    /// A sentence for the programme team.
    pub detail: String,
    /// The term's share of the score (its weight).
    pub weight: f64,
    /// The term's value in [0, 1].
    pub value: f64,
}

/// A proposed pairing: a mentor and their mentees (several in GROUP format).
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// Index into `Problem::mentors`.
    pub mentor: usize,
    /// Indexes into `Problem::mentees`, with each pair's score.
    pub mentees: Vec<(usize, f64)>,
}

/// What the matcher decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Pairings to propose, by mentor index.
    pub proposals: Vec<Proposal>,
    /// Mentees left without a mentor, with why.
    pub unmatched: Vec<(usize, String)>,
    /// Sum of the proposed pairs' scores.
    pub total_score: f64,
    /// Whether the assignment is proved optimal (before the group rule).
    pub certified: bool,
}

impl Problem {
    /// Places each mentor offers in this run, by the pairing rules'
    /// [`places`](rules::places): one in ONE_TO_ONE programmes.
    pub fn capacities(&self) -> Vec<usize> {
        let format = if self.group {
            ProgrammeFormat::Group
        } else {
            ProgrammeFormat::OneToOne
        };
        self.mentors
            .iter()
            .map(|m| {
                rules::places(
                    format,
                    i32::MAX,
                    i32::try_from(m.capacity).unwrap_or(i32::MAX),
                )
            })
            .collect()
    }

    fn quarters_per_session(&self) -> usize {
        (self.session_minutes as usize).div_ceil(15).max(1)
    }

    /// Why the pair is not allowed, if it is not.
    pub fn forbids(&self, mentee: usize, mentor: usize) -> Option<&'static str> {
        let (e, m) = (&self.mentees[mentee].person, &self.mentors[mentor].person);
        match rules::refusal(m.side(), e.side()) {
            Some(Refusal::SamePerson) => return Some("self"),
            Some(Refusal::MentorNotJunior) => return Some("no mentor is junior to them"),
            Some(Refusal::TooCloseInChain) => {
                return Some("every junior mentor is close to them in the management chain");
            }
            None => {}
        }
        if self.declined.contains(&(m.id, e.id)) {
            return Some("the programme team declined their possible mentors");
        }
        None
    }

    /// The terms of the pair's score, with their weights (normalised).
    pub fn terms(&self, mentee: usize, mentor: usize) -> [(f64, f64); 5] {
        let (e, m) = (&self.mentees[mentee], &self.mentors[mentor]);
        let w = self.weights;
        let sum = (w.skills + w.availability + w.department + w.timezone + w.generation)
            .max(f64::EPSILON);
        let wanted: f64 = e.wants.iter().map(|(_, level)| f64::from(*level)).sum();
        let covered: f64 = e
            .wants
            .iter()
            .map(|(skill, level)| {
                let offered = f64::from(m.offers.get(*skill).copied().unwrap_or(0));
                f64::from(*level) * (offered / f64::from((*level).max(1))).min(1.0)
            })
            .sum();
        let skills = if wanted > 0.0 { covered / wanted } else { 0.0 };
        let both = e.person.week.and(&m.person.week);
        let availability = if both.has_run(self.quarters_per_session()) {
            (f64::from(both.quarters()) / 16.0).min(1.0)
        } else {
            0.0
        };
        let department = match (&e.person.department, &m.person.department) {
            (Some((a, _)), Some((b, _))) if a != b => 1.0,
            _ => 0.0,
        };
        let hours_apart =
            f64::from((e.person.utc_offset_minutes - m.person.utc_offset_minutes).abs()) / 60.0;
        let timezone = (1.0 - hours_apart / 12.0).max(0.0);
        let generation = match (ordinal(e.person.generation), ordinal(m.person.generation)) {
            (Some(a), Some(b)) => (f64::from((a - b).abs()) / 3.0).min(1.0),
            _ => 0.0,
        };
        [
            (w.skills / sum, skills),
            (w.availability / sum, availability),
            (w.department / sum, department),
            (w.timezone / sum, timezone),
            (w.generation / sum, generation),
        ]
    }

    /// The pair's score in [0, 1], if allowed.
    pub fn score(&self, mentee: usize, mentor: usize) -> Option<f64> {
        if self.forbids(mentee, mentor).is_some() {
            return None;
        }
        Some(self.terms(mentee, mentor).iter().map(|(w, v)| w * v).sum())
    }

    /// Every term of the pair's score as a sentence.
    pub fn explain(&self, mentee: usize, mentor: usize) -> Vec<Reason> {
        let (e, m) = (&self.mentees[mentee], &self.mentors[mentor]);
        let [skills, availability, department, timezone, generation] = self.terms(mentee, mentor);
        let best_skill = e
            .wants
            .iter()
            .filter_map(|(skill, _)| {
                let offered = m.offers.get(*skill).copied().unwrap_or(0);
                (offered > 0).then_some((offered, *skill))
            })
            .max();
        let skill_detail = match best_skill {
            Some((level, skill)) => format!(
                "Offers {} at level {level}; {} wants it",
                self.skill_names
                    .get(skill)
                    .map_or("a skill", String::as_str),
                e.person.name
            ),
            None if e.wants.is_empty() => {
                format!("{} has not said which skills they want", e.person.name)
            }
            None => format!("Offers none of the skills {} wants", e.person.name),
        };
        let both = e.person.week.and(&m.person.week);
        let hours = f64::from(both.quarters()) / 4.0;
        let availability_detail = if availability.1 > 0.0 {
            format!("{hours:.1} h a week free in common")
        } else {
            format!(
                "Less than {} minutes a week free in common",
                self.session_minutes
            )
        };
        let department_detail = match (&e.person.department, &m.person.department) {
            (Some((a, mentee_dep)), Some((b, mentor_dep))) if a != b => {
                format!("{mentor_dep} meets {mentee_dep}")
            }
            (Some(_), Some((_, same))) => format!("Both in {same}"),
            _ => "Department unknown".to_owned(),
        };
        let apart = (e.person.utc_offset_minutes - m.person.utc_offset_minutes).abs();
        let timezone_detail = if apart == 0 {
            "Same time zone".to_owned()
        } else {
            format!("{:.1} h apart", f64::from(apart) / 60.0)
        };
        let generation_detail = format!(
            "{} mentors {}",
            generation_name(m.person.generation),
            generation_name(e.person.generation)
        );
        [
            ("SKILL_COVERAGE", skill_detail, skills),
            ("AVAILABILITY_OVERLAP", availability_detail, availability),
            ("CROSS_DEPARTMENT", department_detail, department),
            ("TIMEZONE", timezone_detail, timezone),
            ("GENERATION_GAP", generation_detail, generation),
        ]
        .into_iter()
        .map(|(kind, detail, (weight, value))| Reason {
            kind,
            detail,
            weight,
            value,
        })
        .collect()
    }
}

fn ordinal(generation: Generation) -> Option<i32> {
    match generation {
        Generation::BabyBoomer => Some(0),
        Generation::GenX => Some(1),
        Generation::GenY => Some(2),
        Generation::GenZ => Some(3),
        Generation::Unknown => None,
    }
}

fn generation_name(generation: Generation) -> &'static str {
    match generation {
        Generation::BabyBoomer => "A baby boomer",
        Generation::GenX => "Generation X",
        Generation::GenY => "Generation Y",
        Generation::GenZ => "Generation Z",
        Generation::Unknown => "Someone",
    }
}

impl solver::Scorer for Problem {
    fn score(&self, mentee: usize, mentor: usize) -> Option<f64> {
        Problem::score(self, mentee, mentor)
    }
}

/// The problem with some pairs excluded (the group rule's repairs).
struct Excluding<'a> {
    problem: &'a Problem,
    excluded: &'a HashSet<(usize, usize)>,
}

impl solver::Scorer for Excluding<'_> {
    fn score(&self, mentee: usize, mentor: usize) -> Option<f64> {
        if self.excluded.contains(&(mentee, mentor)) {
            return None;
        }
        self.problem.score(mentee, mentor)
    }
}

/// The best proposals for `problem` (deterministic: same input, same output).
pub fn propose(problem: &Problem, settings: &solver::Settings) -> Outcome {
    let capacities = problem.capacities();
    let mut excluded: HashSet<(usize, usize)> = HashSet::new();
    let quarters = problem.quarters_per_session();
    let (assignment, groups) = loop {
        let scorer = Excluding {
            problem,
            excluded: &excluded,
        };
        let assignment = solver::assign(&scorer, problem.mentees.len(), &capacities, settings);
        let mut groups: Vec<Vec<(usize, f64)>> = vec![Vec::new(); problem.mentors.len()];
        for (mentee, mentor) in assignment.mentor_of.iter().enumerate() {
            if let Some(mentor) = mentor {
                let score = problem.score(mentee, *mentor).unwrap_or(0.0);
                groups[*mentor].push((mentee, score));
            }
        }
        let mut repaired = false;
        if problem.group {
            for (mentor, members) in groups.iter().enumerate().filter(|(_, g)| g.len() > 1) {
                let common = members
                    .iter()
                    .fold(problem.mentors[mentor].person.week, |week, (e, _)| {
                        week.and(&problem.mentees[*e].person.week)
                    });
                if !common.has_run(quarters)
                    && let Some((weakest, _)) = members
                        .iter()
                        .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                {
                    excluded.insert((*weakest, mentor));
                    repaired = true;
                }
            }
        }
        if !repaired || excluded.len() > problem.mentees.len() * 4 {
            break (assignment, groups);
        }
    };
    let proposals = groups
        .into_iter()
        .enumerate()
        .flat_map(|(mentor, mut members)| {
            members.sort_by_key(|(e, _)| *e);
            if problem.group {
                (!members.is_empty())
                    .then_some(Proposal {
                        mentor,
                        mentees: members,
                    })
                    .into_iter()
                    .collect::<Vec<_>>()
            } else {
                members
                    .into_iter()
                    .map(|member| Proposal {
                        mentor,
                        mentees: vec![member],
                    })
                    .collect()
            }
        })
        .collect();
    let unmatched = assignment
        .mentor_of
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_none())
        .map(|(mentee, _)| (mentee, why_unmatched(problem, mentee, &capacities)))
        .collect();
    Outcome {
        proposals,
        unmatched,
        total_score: assignment.total_score,
        certified: assignment.certified,
    }
}

/// Why a mentee got no mentor: the rules that exclude the mentors (the most
/// frequent first), or capacity when some mentor was allowed.
fn why_unmatched(problem: &Problem, mentee: usize, capacities: &[usize]) -> String {
    let mut blocked: Vec<&'static str> = Vec::new();
    for (mentor, capacity) in capacities.iter().enumerate() {
        match problem.forbids(mentee, mentor) {
            None if *capacity > 0 => {
                return "every mentor allowed for them is taken by better-scoring pairs".to_owned();
            }
            None => return "every mentor allowed for them is fully booked".to_owned(),
            Some(reason) => blocked.push(reason),
        }
    }
    if blocked.is_empty() {
        return "no eligible mentor in the programme".to_owned();
    }
    let mut counts: Vec<(usize, &'static str)> = Vec::new();
    for reason in blocked {
        match counts.iter_mut().find(|(_, r)| *r == reason) {
            Some((count, _)) => *count += 1,
            None => counts.push((1, reason)),
        }
    }
    counts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    counts
        .iter()
        .map(|(_, r)| *r)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(n: u128, seniority: i32, offset_hours: i32) -> Person {
        let mut week = Week::default();
        for q in 36..72 {
            week.set(q); // Monday 09:00–18:00 UTC
        }
        Person {
            id: Uuid::from_u128(n),
            name: format!("P{n}"),
            seniority: Some(seniority),
            department: Some((Uuid::from_u128(1000 + n % 2), format!("D{}", n % 2))),
            generation: if seniority < 5 {
                Generation::GenZ
            } else {
                Generation::GenX
            },
            utc_offset_minutes: offset_hours * 60,
            chain: Vec::new(),
            week,
        }
    }

    fn problem(mentors: Vec<Mentor>, mentees: Vec<Mentee>, group: bool) -> Problem {
        Problem {
            mentors,
            mentees,
            declined: HashSet::new(),
            skill_names: vec!["SEO".into(), "LinkedIn".into(), "Data protection".into()],
            session_minutes: 60,
            group,
            weights: Weights::default(),
        }
    }

    fn mentor(n: u128, seniority: i32, offers: Vec<u8>) -> Mentor {
        Mentor {
            person: person(n, seniority, 0),
            capacity: 1,
            offers,
        }
    }

    fn mentee(n: u128, seniority: i32, wants: Vec<(usize, u8)>) -> Mentee {
        Mentee {
            person: person(n, seniority, 0),
            wants,
        }
    }

    #[test]
    fn the_hard_rules_forbid_pairs() {
        let mut p = problem(
            vec![mentor(1, 3, vec![4, 0, 0])],
            vec![mentee(2, 2, vec![(0, 3)])],
            false,
        );
        assert_eq!(p.forbids(0, 0), Some("no mentor is junior to them"));
        p.mentees[0].person.seniority = Some(9);
        assert_eq!(p.forbids(0, 0), None);
        p.mentees[0].person.chain = vec![Uuid::from_u128(1)];
        assert!(p.forbids(0, 0).is_some(), "the mentor manages the mentee");
        p.mentees[0].person.chain.clear();
        p.mentors[0].person.chain = vec![Uuid::from_u128(2)];
        assert!(p.forbids(0, 0).is_some(), "the mentee manages the mentor");
        p.mentors[0].person.chain.clear();
        p.declined.insert((Uuid::from_u128(1), Uuid::from_u128(2)));
        assert!(p.forbids(0, 0).is_some(), "declined before");
    }

    #[test]
    fn every_proposal_is_explained() {
        let p = problem(
            vec![mentor(1, 2, vec![4, 0, 0])],
            vec![mentee(2, 9, vec![(0, 3)])],
            false,
        );
        let outcome = propose(&p, &solver::Settings::default());
        assert_eq!(outcome.proposals.len(), 1);
        let reasons = p.explain(0, 0);
        let kinds: Vec<&str> = reasons.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                "SKILL_COVERAGE",
                "AVAILABILITY_OVERLAP",
                "CROSS_DEPARTMENT",
                "TIMEZONE",
                "GENERATION_GAP"
            ]
        );
        assert_eq!(reasons[0].detail, "Offers SEO at level 4; P2 wants it");
        let weights: f64 = reasons.iter().map(|r| r.weight).sum();
        assert!((weights - 1.0).abs() < 1e-9);
        let score: f64 = reasons.iter().map(|r| r.weight * r.value).sum();
        assert!((score - p.score(0, 0).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn a_group_without_a_common_hour_is_split() {
        let mut a = mentee(2, 9, vec![]);
        let mut b = mentee(3, 9, vec![]);
        let (mut morning, mut evening) = (Week::default(), Week::default());
        for q in 36..44 {
            morning.set(q);
        }
        for q in 60..68 {
            evening.set(q);
        }
        a.person.week = morning;
        b.person.week = evening;
        let mut group_mentor = mentor(1, 2, vec![]);
        group_mentor.capacity = 2;
        let p = problem(vec![group_mentor], vec![a, b], true);
        let outcome = propose(&p, &solver::Settings::default());
        assert_eq!(outcome.proposals.len(), 1);
        assert_eq!(outcome.proposals[0].mentees.len(), 1, "one of the two only");
        assert_eq!(outcome.unmatched.len(), 1);
    }

    #[test]
    fn unmatched_mentees_are_told_why() {
        let p = problem(
            vec![mentor(1, 8, vec![])],
            vec![mentee(2, 5, vec![])],
            false,
        );
        let outcome = propose(&p, &solver::Settings::default());
        assert_eq!(
            outcome.unmatched,
            vec![(0, "no mentor is junior to them".to_owned())]
        );
    }

    #[test]
    fn a_week_finds_runs_across_the_end_of_sunday() {
        let mut week = Week::default();
        week.set(QUARTERS - 2);
        week.set(QUARTERS - 1);
        week.set(0);
        week.set(1);
        assert!(week.has_run(4));
        assert!(!week.has_run(5));
        assert_eq!(week.quarters(), 4);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Small random problems: seniorities, capacities, skills, chains, declines.
    fn problems() -> impl Strategy<Value = Problem> {
        let mentors = prop::collection::vec(
            (1..12i32, 1..3usize, prop::collection::vec(0..5u8, 3)),
            1..5,
        );
        let mentees = prop::collection::vec(
            (1..13i32, prop::collection::vec((0..3usize, 1..5u8), 0..3)),
            1..7,
        );
        let links = prop::collection::vec((0..5usize, 0..7usize, 0..3u8), 0..6);
        (mentors, mentees, links).prop_map(|(mentors, mentees, links)| {
            let mut p = Problem {
                mentors: mentors
                    .into_iter()
                    .enumerate()
                    .map(|(i, (seniority, capacity, offers))| Mentor {
                        person: tests_person(i as u128, seniority),
                        capacity,
                        offers,
                    })
                    .collect(),
                mentees: mentees
                    .into_iter()
                    .enumerate()
                    .map(|(i, (seniority, wants))| Mentee {
                        person: tests_person(100 + i as u128, seniority),
                        wants,
                    })
                    .collect(),
                declined: HashSet::new(),
                skill_names: vec!["SEO".into(), "LinkedIn".into(), "Data protection".into()],
                session_minutes: 60,
                group: false,
                weights: Weights::default(),
            };
            for (m, e, kind) in links {
                let (Some(mentor), Some(mentee)) = (
                    p.mentors.get(m).map(|m| m.person.id),
                    p.mentees.get(e).map(|e| e.person.id),
                ) else {
                    continue;
                };
                match kind {
                    0 => {
                        p.declined.insert((mentor, mentee));
                    }
                    1 => p.mentees[e].person.chain.push(mentor),
                    _ => p.mentors[m].person.chain.push(mentee),
                }
            }
            p
        })
    }

    fn tests_person(n: u128, seniority: i32) -> Person {
        let mut week = Week::default();
        for q in (n as usize % 7) * 96 + 36..(n as usize % 7) * 96 + 60 {
            week.set(q);
        }
        Person {
            id: Uuid::from_u128(n),
            name: format!("P{n}"),
            seniority: Some(seniority),
            department: Some((Uuid::from_u128(1000 + n % 3), format!("D{}", n % 3))),
            generation: [Generation::GenZ, Generation::GenY, Generation::GenX][n as usize % 3],
            utc_offset_minutes: (n as i32 % 5) * 60,
            chain: Vec::new(),
            week,
        }
    }

    /// The best total score by trying every assignment.
    fn brute_force(p: &Problem, mentee: usize, left: &mut Vec<usize>) -> i64 {
        if mentee == p.mentees.len() {
            return 0;
        }
        let mut best = brute_force(p, mentee + 1, left);
        for m in 0..p.mentors.len() {
            if left[m] == 0 {
                continue;
            }
            if let Some(score) = p.score(mentee, m) {
                left[m] -= 1;
                let value = (score * solver::SCALE as f64).round() as i64;
                best = best.max(value + brute_force(p, mentee + 1, left));
                left[m] += 1;
            }
        }
        best
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn proposals_break_no_rule_and_reach_the_optimum(p in problems()) {
            let outcome = propose(&p, &solver::Settings { per_mentee: 1, per_slot: 1, ..Default::default() });
            let mut load = vec![0usize; p.mentors.len()];
            let mut seen = HashSet::new();
            let mut total = 0i64;
            for proposal in &outcome.proposals {
                for (mentee, score) in &proposal.mentees {
                    prop_assert!(p.forbids(*mentee, proposal.mentor).is_none());
                    prop_assert!(seen.insert(*mentee), "a mentee proposed twice");
                    load[proposal.mentor] += 1;
                    total += (score * solver::SCALE as f64).round() as i64;
                }
            }
            for (m, used) in load.iter().enumerate() {
                prop_assert!(*used <= p.mentors[m].capacity.min(1));
            }
            prop_assert!(outcome.certified);
            let capacities: Vec<usize> = p.mentors.iter().map(|m| m.capacity.min(1)).collect();
            prop_assert_eq!(total, brute_force(&p, 0, &mut capacities.clone()));
        }
    }
}
