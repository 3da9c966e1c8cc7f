//! What makes a pairing allowed: pure checks over plain values, used alike
//! by hand pairing (`createPairing`), the acceptance of a proposal
//! (`decidePairing`) and the matcher. No database here: the callers load
//! the facts, these functions decide.

use entity::enrolment;
use entity::enums::{PairingStatus, ProgrammeFormat, ProgrammeStatus};
use uuid::Uuid;

/// States in which a pairing holds its mentor's places and its mentees'
/// place in the programme: a proposal reserves them until it is decided.
pub const HOLDING_PLACES: [PairingStatus; 3] = [
    PairingStatus::Proposed,
    PairingStatus::Active,
    PairingStatus::Paused,
];

/// States of a pairing that has started and not ended: its participants
/// meet, book sessions and read each other's free time.
pub const RUNNING: [PairingStatus; 2] = [PairingStatus::Active, PairingStatus::Paused];

/// States from which nothing moves any more.
pub const FINAL: [PairingStatus; 3] = [
    PairingStatus::Completed,
    PairingStatus::EndedEarly,
    PairingStatus::Declined,
];

/// Whether a programme in this state makes pairings (by hand, by accepting
/// a proposal): while MATCHING or ACTIVE.
pub fn starts_pairings(status: ProgrammeStatus) -> bool {
    matches!(status, ProgrammeStatus::Matching | ProgrammeStatus::Active)
}

/// Whether a programme in this state lets its pairings run (and resume
/// from a pause): from the first pairing until it is CLOSED, even while it
/// takes volunteers again (ENROLLING).
pub fn runs_pairings(status: ProgrammeStatus) -> bool {
    !matches!(status, ProgrammeStatus::Draft | ProgrammeStatus::Closed)
}

/// Rules from configuration that pairings obey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairingRules {
    /// Management-chain levels within which mentor and mentee may not be
    /// paired, either way (`MATCH_EXCLUDED_CHAIN_DEPTH`).
    pub excluded_chain_depth: u32,
}

impl Default for PairingRules {
    fn default() -> Self {
        Self {
            excluded_chain_depth: 2,
        }
    }
}

/// Why two people may not be mentor and mentee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The same person on both sides.
    SamePerson,
    /// Reverse mentoring: the mentor must be junior in seniority (both known).
    MentorNotJunior,
    /// One manages the other within the excluded depth.
    TooCloseInChain,
}

/// What the pairing rules need to know of one person.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    /// Employee id.
    pub id: Uuid,
    /// Seniority level, 1 (junior) up; unknown levels never pair.
    pub seniority: Option<i32>,
    /// Their managers, nearest first, as deep as the excluded depth
    /// ([`management_chain`]).
    pub chain: &'a [Uuid],
}

/// Why `mentor` may not mentor `mentee`, if they may not.
pub fn refusal(mentor: Side<'_>, mentee: Side<'_>) -> Option<Refusal> {
    if mentor.id == mentee.id {
        return Some(Refusal::SamePerson);
    }
    match (mentor.seniority, mentee.seniority) {
        (Some(junior), Some(senior)) if junior < senior => {}
        _ => return Some(Refusal::MentorNotJunior),
    }
    if mentor.chain.contains(&mentee.id) || mentee.chain.contains(&mentor.id) {
        return Some(Refusal::TooCloseInChain);
    }
    None
}

/// The managers above `employee`, nearest first, up to `depth` levels; a
/// cycle in the data stops the walk instead of looping.
pub fn management_chain(
    employee: Uuid,
    depth: u32,
    manager_of: impl Fn(Uuid) -> Option<Uuid>,
) -> Vec<Uuid> {
    let mut chain = Vec::new();
    let mut current = employee;
    for _ in 0..depth {
        match manager_of(current) {
            Some(next) if next != employee && !chain.contains(&next) => {
                chain.push(next);
                current = next;
            }
            _ => break,
        }
    }
    chain
}

/// Whether a mentor enrolment may be paired: when the programme requires
/// it, their training is recorded and a supervisor is assigned.
pub fn is_ready_to_mentor(requires_training: bool, mentor: &enrolment::Model) -> bool {
    !requires_training || (mentor.training_completed_at.is_some() && mentor.supervisor_id.is_some())
}

/// How many mentees a mentor may have at once in a programme: the places
/// they offered, at most the programme's `maxMenteesPerMentor`, and one in
/// a ONE_TO_ONE programme (one mentor, one mentee).
pub fn places(format: ProgrammeFormat, max_mentees_per_mentor: i32, offered: i32) -> usize {
    let limit = match format {
        ProgrammeFormat::OneToOne => 1,
        ProgrammeFormat::Group => usize::try_from(max_mentees_per_mentor).unwrap_or(0).max(1),
    };
    usize::try_from(offered).unwrap_or(0).min(limit)
}

/// Why one pairing may not have `mentees` mentees in this format, if not:
/// ONE_TO_ONE pairs exactly one, GROUP at most `maxMenteesPerMentor`.
pub fn size_refusal(
    format: ProgrammeFormat,
    max_mentees_per_mentor: i32,
    mentees: usize,
) -> Option<String> {
    match format {
        ProgrammeFormat::OneToOne if mentees != 1 => {
            Some("a ONE_TO_ONE programme pairs exactly one mentee".to_owned())
        }
        ProgrammeFormat::Group if mentees > places(format, max_mentees_per_mentor, i32::MAX) => {
            Some(format!(
                "this programme allows at most {max_mentees_per_mentor} mentees per mentor"
            ))
        }
        _ if mentees == 0 => Some("a pairing needs at least one mentee".to_owned()),
        _ => None,
    }
}

/// Whether a mentor with `places` places, `taken` of them held by other
/// pairings, can take `more` mentees.
pub fn has_room(places: usize, taken: usize, more: usize) -> bool {
    taken.saturating_add(more) <= places
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn side(n: u128, seniority: Option<i32>, chain: &[Uuid]) -> Side<'_> {
        Side {
            id: id(n),
            seniority,
            chain,
        }
    }

    #[test]
    fn a_junior_mentor_outside_the_chain_may_mentor_a_senior() {
        assert_eq!(refusal(side(1, Some(2), &[]), side(2, Some(7), &[])), None);
    }

    #[test]
    fn nobody_mentors_themself() {
        assert_eq!(
            refusal(side(1, Some(2), &[]), side(1, Some(7), &[])),
            Some(Refusal::SamePerson)
        );
    }

    #[test]
    fn equal_senior_or_unknown_seniority_is_refused() {
        for (mentor, mentee) in [(Some(5), Some(5)), (Some(7), Some(2)), (None, Some(7))] {
            assert_eq!(
                refusal(side(1, mentor, &[]), side(2, mentee, &[])),
                Some(Refusal::MentorNotJunior),
                "{mentor:?} mentoring {mentee:?}"
            );
        }
        assert_eq!(
            refusal(side(1, Some(2), &[]), side(2, None, &[])),
            Some(Refusal::MentorNotJunior)
        );
    }

    #[test]
    fn a_manager_in_either_chain_is_refused() {
        let mentee_is_manager = [id(2)];
        assert_eq!(
            refusal(side(1, Some(2), &mentee_is_manager), side(2, Some(7), &[])),
            Some(Refusal::TooCloseInChain)
        );
        let mentor_is_manager = [id(1)];
        assert_eq!(
            refusal(side(1, Some(2), &[]), side(2, Some(7), &mentor_is_manager)),
            Some(Refusal::TooCloseInChain)
        );
    }

    #[test]
    fn the_chain_stops_at_the_depth_and_at_cycles() {
        // 1 reports to 2, 2 to 3, 3 to 4, 4 to 1 (a cycle in bad data).
        let manager_of = |e: Uuid| Some(id(e.as_u128() % 4 + 1));
        assert_eq!(management_chain(id(1), 2, manager_of), [id(2), id(3)]);
        assert_eq!(
            management_chain(id(1), 10, manager_of),
            [id(2), id(3), id(4)]
        );
        assert_eq!(management_chain(id(1), 0, manager_of), Vec::<Uuid>::new());
        assert_eq!(management_chain(id(1), 5, |_| None), Vec::<Uuid>::new());
    }

    #[test]
    fn places_are_the_offer_capped_by_the_format() {
        assert_eq!(places(ProgrammeFormat::Group, 3, 2), 2);
        assert_eq!(places(ProgrammeFormat::Group, 3, 5), 3);
        assert_eq!(places(ProgrammeFormat::OneToOne, 3, 5), 1);
        assert_eq!(places(ProgrammeFormat::Group, 3, 0), 0);
        assert_eq!(places(ProgrammeFormat::Group, 3, -4), 0);
        assert_eq!(places(ProgrammeFormat::Group, 0, 2), 1, "at least one");
    }

    #[test]
    fn a_pairing_has_one_mentee_or_a_group_within_the_limit() {
        assert!(size_refusal(ProgrammeFormat::OneToOne, 3, 1).is_none());
        assert!(size_refusal(ProgrammeFormat::OneToOne, 3, 2).is_some());
        assert!(size_refusal(ProgrammeFormat::Group, 3, 3).is_none());
        assert!(size_refusal(ProgrammeFormat::Group, 3, 4).is_some());
        assert!(size_refusal(ProgrammeFormat::Group, 3, 0).is_some());
    }

    #[test]
    fn pairings_start_while_matching_or_active_and_run_until_closed() {
        use ProgrammeStatus::*;
        for status in [Draft, Enrolling, Closed] {
            assert!(!starts_pairings(status), "{status:?}");
        }
        assert!(starts_pairings(Matching) && starts_pairings(Active));
        assert!(runs_pairings(Enrolling) && runs_pairings(Matching) && runs_pairings(Active));
        assert!(!runs_pairings(Closed) && !runs_pairings(Draft));
    }

    #[test]
    fn room_counts_the_places_other_pairings_hold() {
        assert!(has_room(2, 1, 1));
        assert!(!has_room(2, 1, 2));
        assert!(!has_room(0, 0, 1));
        assert!(!has_room(1, usize::MAX, 1), "no overflow");
    }

    #[test]
    fn training_counts_only_where_the_programme_requires_it() {
        let now = chrono::Utc::now();
        let mut mentor = enrolment::Model {
            id: id(1),
            programme_id: id(2),
            employee_id: id(3),
            role: entity::enums::ParticipantRole::Mentor,
            status: entity::enums::EnrolmentStatus::Approved,
            consented_at: now,
            motivation: None,
            training_completed_at: None,
            supervisor_id: None,
            capacity: 1,
            decided_at: None,
            decision_reason: None,
            withdrawn_at: None,
            created_at: now,
            updated_at: now,
        };
        assert!(!is_ready_to_mentor(true, &mentor));
        assert!(is_ready_to_mentor(false, &mentor));
        mentor.training_completed_at = Some(now);
        assert!(!is_ready_to_mentor(true, &mentor), "a supervisor too");
        mentor.supervisor_id = Some(id(4));
        assert!(is_ready_to_mentor(true, &mentor));
    }
}
