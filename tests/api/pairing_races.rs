//! Every limit of the pairing lifecycle holds under concurrency: requests
//! that race over real HTTP never overbook a mentor (by `createPairing`,
//! `decidePairing` or two `proposeMatches` runs), never give a mentee two
//! live pairings, never leave a closed programme with a live pairing, and
//! never decide an enrolment twice. In each race exactly the allowed number
//! of requests win, every loser is a CONFLICT a person understands (never an
//! internal error), and the stored state agrees with the winners.
//!
//! Each test repeats its race [`TRIALS`] times, each over a fresh programme
//! and fresh people, so that a race lost one time in three is still caught
//! (it slips through all trials with probability (2/3)^8 < 4%).

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use entity::enums::{
    PairingStatus, ParticipantRole, ProgrammeFormat, ProgrammeStatus, SkillDirection,
};
use entity::{audit_log, enrolment, pairing, programme, skill, skill_profile};
use sea_orm::{ActiveEnum as _, ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, assert_understood_conflict, insert_approved, insert_employee,
    insert_pairing, insert_programme, won,
};

const TRIALS: usize = 8;

const CREATE: &str = "mutation($p: UUID!, $m: UUID!, $ms: [UUID!]!) { createPairing(programmeId: $p, mentorId: $m, menteeIds: $ms) { id } }";
const DECIDE: &str =
    "mutation($id: UUID!, $a: Boolean!) { decidePairing(id: $id, accept: $a) { id status } }";
const PROPOSE: &str = "mutation($p: UUID!) { proposeMatches(programmeId: $p) { id } }";
const TRANSITION: &str = "mutation($id: UUID!, $to: ProgrammeStatus!) { transitionProgramme(id: $id, to: $to) { status } }";
const ENROL: &str = "mutation($input: EnrolInput!) { enrol(input: $input) { id status } }";
const DECIDE_ENROLMENT: &str = "mutation($id: UUID!, $approve: Boolean!) { decideEnrolment(id: $id, approve: $approve) { status } }";

/// Pairing states that hold a mentor's place and a mentee's.
const LIVE: [PairingStatus; 3] = [
    PairingStatus::Proposed,
    PairingStatus::Active,
    PairingStatus::Paused,
];

/// One service for all the trials of a test, and the supervisor of its mentors.
struct World {
    app: TestApp,
    supervisor: Uuid,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let app = TestApp::spawn(backend).await;
        let supervisor = insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
        Self { app, supervisor }
    }

    /// A fresh GROUP programme (up to 3 mentees per pairing) in `status`.
    async fn programme(&self, trial: usize, status: ProgrammeStatus) -> Uuid {
        insert_programme(&self.app.db, &format!("Race {trial}"), status).await
    }

    /// A junior (level 2), trained and supervised mentor taking `capacity` mentees.
    async fn mentor(&self, programme: Uuid, name: &str, capacity: usize) -> Uuid {
        let id = insert_employee(&self.app.db, Person::new(name, 2)).await;
        insert_approved(
            &self.app.db,
            programme,
            id,
            ParticipantRole::Mentor,
            capacity as i32,
            Some(self.supervisor),
        )
        .await;
        id
    }

    /// A senior (level 7) approved mentee, outside every mentor's chain.
    async fn mentee(&self, programme: Uuid, name: &str) -> Uuid {
        let id = insert_employee(&self.app.db, Person::new(name, 7)).await;
        insert_approved(
            &self.app.db,
            programme,
            id,
            ParticipantRole::Mentee,
            1,
            None,
        )
        .await;
        id
    }

    /// `n` requests of `query`, each by its own admin, the i-th with `variables(i)`.
    async fn by_admins(
        &self,
        n: usize,
        query: &'static str,
        variables: impl Fn(usize) -> Value,
    ) -> Vec<(String, &'static str, Value)> {
        let mut requests = Vec::new();
        for i in 0..n {
            let admin = self.app.token(None, &["admin"]).await;
            requests.push((admin, query, variables(i)));
        }
        requests
    }
}

/// The programme's pairings in `states`, each with its mentees.
async fn pairings(
    app: &TestApp,
    programme: Uuid,
    states: &[PairingStatus],
) -> Vec<(pairing::Model, Vec<Uuid>)> {
    let found = pairing::Entity::find()
        .filter(pairing::Column::ProgrammeId.eq(programme))
        .filter(pairing::Column::Status.is_in(states.iter().cloned()))
        .all(&app.db)
        .await
        .unwrap();
    let ids: Vec<Uuid> = found.iter().map(|p| p.id).collect();
    let mut mentees = tandem::domain::pairings::mentees_of(&app.db, &ids)
        .await
        .unwrap();
    found
        .into_iter()
        .map(|p| {
            let of = mentees.remove(&p.id).unwrap_or_default();
            (p, of)
        })
        .collect()
}

fn ids_of(pairings: &[(pairing::Model, Vec<Uuid>)]) -> BTreeSet<String> {
    pairings.iter().map(|(p, _)| p.id.to_string()).collect()
}

/// The ids the winning responses answer under `data.<field>` (one or a list).
fn won_ids(bodies: &[Value], field: &str) -> BTreeSet<String> {
    bodies
        .iter()
        .filter(|body| won(body))
        .flat_map(|body| match &body["data"][field] {
            Value::Array(items) => items.clone(),
            item => vec![item.clone()],
        })
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Mentees held per mentor, and live pairings per mentee.
fn loads(live: &[(pairing::Model, Vec<Uuid>)]) -> (HashMap<Uuid, usize>, HashMap<Uuid, usize>) {
    let (mut per_mentor, mut per_mentee) = (HashMap::new(), HashMap::new());
    for (pairing, mentees) in live {
        *per_mentor.entry(pairing.mentor_id).or_default() += mentees.len();
        for mentee in mentees {
            *per_mentee.entry(*mentee).or_default() += 1;
        }
    }
    (per_mentor, per_mentee)
}

/// 8 admins at once pair a mentor taking `capacity` with 8 different mentees.
async fn create_pairing_fills_a_mentor_exactly(backend: Backend, capacity: usize) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Matching).await;
        let mentor = w
            .mentor(programme, &format!("Mentor {trial}"), capacity)
            .await;
        let mut mentees = Vec::new();
        for i in 0..8 {
            mentees.push(w.mentee(programme, &format!("Mentee {trial} {i}")).await);
        }
        let requests = w
            .by_admins(
                8,
                CREATE,
                |i| json!({ "p": programme, "m": mentor, "ms": [mentees[i]] }),
            )
            .await;
        let bodies = w.app.assert_exactly_n_win(requests, capacity).await;
        let live = pairings(&w.app, programme, &LIVE).await;
        assert_eq!(live.len(), capacity, "trial {trial}: {live:?}");
        assert_eq!(ids_of(&live), won_ids(&bodies, "createPairing"));
        assert!(
            live.iter().all(|(p, _)| p.status == PairingStatus::Active),
            "trial {trial}: {live:?}"
        );
    }
}

async fn create_pairing_never_overbooks_a_mentor_of_one(backend: Backend) {
    create_pairing_fills_a_mentor_exactly(backend, 1).await;
}

async fn create_pairing_never_overbooks_a_mentor_of_two(backend: Backend) {
    create_pairing_fills_a_mentor_exactly(backend, 2).await;
}

/// 8 admins at once pair one mentee with 8 different mentors.
async fn create_pairing_gives_a_mentee_one_live_pairing(backend: Backend) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Matching).await;
        let mentee = w.mentee(programme, &format!("Mentee {trial}")).await;
        let mut mentors = Vec::new();
        for i in 0..8 {
            mentors.push(w.mentor(programme, &format!("Mentor {trial} {i}"), 1).await);
        }
        let requests = w
            .by_admins(
                8,
                CREATE,
                |i| json!({ "p": programme, "m": mentors[i], "ms": [mentee] }),
            )
            .await;
        let bodies = w.app.assert_exactly_n_win(requests, 1).await;
        let live = pairings(&w.app, programme, &LIVE).await;
        assert_eq!(
            loads(&live).1.get(&mentee),
            Some(&1),
            "trial {trial}: {live:?}"
        );
        assert_eq!(ids_of(&live), won_ids(&bodies, "createPairing"));
    }
}

/// A mentor taking one mentee has 4 proposals; admins accept all 4 at once.
async fn accepting_proposals_never_overbooks_a_mentor(backend: Backend) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Matching).await;
        let mentor = w.mentor(programme, &format!("Mentor {trial}"), 1).await;
        let mut proposals = Vec::new();
        for i in 0..4 {
            let mentee = w.mentee(programme, &format!("Mentee {trial} {i}")).await;
            let proposed = PairingStatus::Proposed;
            proposals.push(insert_pairing(&w.app.db, programme, mentor, &[mentee], proposed).await);
        }
        let requests = w
            .by_admins(4, DECIDE, |i| json!({ "id": proposals[i], "a": true }))
            .await;
        let bodies = w.app.assert_exactly_n_win(requests, 1).await;
        let active = pairings(&w.app, programme, &[PairingStatus::Active]).await;
        assert_eq!(active.len(), 1, "trial {trial}: {active:?}");
        assert_eq!(ids_of(&active), won_ids(&bodies, "decidePairing"));
    }
}

/// One mentee is proposed to two mentors; admins accept both at once.
async fn accepting_proposals_gives_a_mentee_one_active_pairing(backend: Backend) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Matching).await;
        let mentee = w.mentee(programme, &format!("Mentee {trial}")).await;
        let mut proposals = Vec::new();
        for i in 0..2 {
            let mentor = w.mentor(programme, &format!("Mentor {trial} {i}"), 1).await;
            let proposed = PairingStatus::Proposed;
            proposals.push(insert_pairing(&w.app.db, programme, mentor, &[mentee], proposed).await);
        }
        let requests = w
            .by_admins(2, DECIDE, |i| json!({ "id": proposals[i], "a": true }))
            .await;
        let bodies = w.app.assert_exactly_n_win(requests, 1).await;
        let active = pairings(&w.app, programme, &[PairingStatus::Active]).await;
        assert_eq!(active.len(), 1, "trial {trial}: {active:?}");
        assert_eq!(ids_of(&active), won_ids(&bodies, "decidePairing"));
    }
}

async fn wants_or_offers_seo(app: &TestApp, who: Uuid, direction: SkillDirection) {
    let seo = skill::Entity::find()
        .filter(skill::Column::Slug.eq("seo"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    skill_profile::ActiveModel {
        id: Set(Uuid::now_v7()),
        employee_id: Set(who),
        skill_id: Set(seo.id),
        direction: Set(direction),
        level: Set(3),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

/// A ONE_TO_ONE programme with 3 mentors (one place each) and 3 mentees
/// they suit; 4 admins run the matcher at once.
async fn concurrent_matcher_runs_never_overbook(backend: Backend) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Matching).await;
        programme::ActiveModel {
            id: Set(programme),
            format: Set(ProgrammeFormat::OneToOne),
            max_mentees_per_mentor: Set(1),
            ..Default::default()
        }
        .update(&w.app.db)
        .await
        .unwrap();
        let mut mentees = Vec::new();
        for i in 0..3 {
            let mentor = w.mentor(programme, &format!("Mentor {trial} {i}"), 1).await;
            wants_or_offers_seo(&w.app, mentor, SkillDirection::Offers).await;
            let mentee = w.mentee(programme, &format!("Mentee {trial} {i}")).await;
            wants_or_offers_seo(&w.app, mentee, SkillDirection::Wants).await;
            mentees.push(mentee);
        }
        let requests = w.by_admins(4, PROPOSE, |_| json!({ "p": programme })).await;
        let bodies = w.app.send_at_once(requests).await;
        assert!(bodies.iter().any(won), "trial {trial}: {bodies:?}");
        for body in bodies.iter().filter(|body| !won(body)) {
            assert_understood_conflict(body);
        }
        let live = pairings(&w.app, programme, &LIVE).await;
        let (per_mentor, per_mentee) = loads(&live);
        assert!(
            per_mentor.values().all(|held| *held <= 1),
            "trial {trial}: a mentor overbooked: {per_mentor:?}"
        );
        for mentee in &mentees {
            assert_eq!(per_mentee.get(mentee), Some(&1), "trial {trial}: {live:?}");
        }
        assert_eq!(live.len(), 3, "trial {trial}: {live:?}");
        assert_eq!(ids_of(&live), won_ids(&bodies, "proposeMatches"));
    }
}

/// An ACTIVE programme with a proposal: one admin closes the programme while
/// another accepts the proposal.
async fn closing_a_programme_while_a_proposal_is_accepted(backend: Backend) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Active).await;
        let mentor = w.mentor(programme, &format!("Mentor {trial}"), 1).await;
        let mentee = w.mentee(programme, &format!("Mentee {trial}")).await;
        let proposed = PairingStatus::Proposed;
        let proposal = insert_pairing(&w.app.db, programme, mentor, &[mentee], proposed).await;
        let admin = w.app.token(None, &["admin"]).await;
        let bodies = w
            .app
            .send_at_once(vec![
                (
                    admin.clone(),
                    TRANSITION,
                    json!({ "id": programme, "to": "CLOSED" }),
                ),
                (admin, DECIDE, json!({ "id": proposal, "a": true })),
            ])
            .await;
        assert!(won(&bodies[0]), "trial {trial}: closing wins: {bodies:?}");
        let accepted = won(&bodies[1]);
        if !accepted {
            assert_understood_conflict(&bodies[1]);
        }
        let closed = programme::Entity::find_by_id(programme)
            .one(&w.app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed.status, ProgrammeStatus::Closed);
        let stored = pairing::Entity::find_by_id(proposal)
            .one(&w.app.db)
            .await
            .unwrap()
            .unwrap();
        // Accepted first, closing completed it; closed first, the accept
        // was refused and the proposal waits to be declined (closing does
        // not decline it: a decline would bar the pair from later matching).
        let expected = if accepted {
            PairingStatus::Completed
        } else {
            PairingStatus::Proposed
        };
        assert_eq!(
            stored.status, expected,
            "trial {trial}: no pairing runs in a CLOSED programme (accepted: {accepted}): {stored:?}"
        );
    }
}

/// A volunteer's PENDING enrolment; 6 admins at once approve or reject it.
async fn an_enrolment_is_decided_once(backend: Backend) {
    let w = World::new(backend).await;
    for trial in 0..TRIALS {
        let programme = w.programme(trial, ProgrammeStatus::Enrolling).await;
        let name = format!("Vera Volunteer {trial}");
        insert_employee(&w.app.db, Person::new(&name, 7)).await;
        let volunteer = w.app.token(Some(&Person::email(&name)), &[]).await;
        let input =
            json!({ "input": { "programmeId": programme, "role": "MENTEE", "consent": true } });
        let enrolled = w.app.query_ok(&volunteer, ENROL, input).await;
        assert_eq!(enrolled["enrol"]["status"], "PENDING");
        let id: Uuid = enrolled["enrol"]["id"].as_str().unwrap().parse().unwrap();
        let requests = w
            .by_admins(
                6,
                DECIDE_ENROLMENT,
                |i| json!({ "id": id, "approve": i % 2 == 0 }),
            )
            .await;
        let bodies = w.app.assert_exactly_n_win(requests, 1).await;
        let winner = bodies.iter().find(|body| won(body)).unwrap();
        let stored = enrolment::Entity::find_by_id(id)
            .one(&w.app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            winner["data"]["decideEnrolment"]["status"],
            stored.status.to_value(),
            "trial {trial}: the stored decision is the winner's"
        );
        let decisions = audit_log::Entity::find()
            .filter(audit_log::Column::TargetId.eq(id))
            .filter(audit_log::Column::Action.eq("enrolment.decide"))
            .all(&w.app.db)
            .await
            .unwrap();
        assert_eq!(decisions.len(), 1, "trial {trial}: {decisions:?}");
    }
}

both!(
    create_pairing_never_overbooks_a_mentor_of_one,
    create_pairing_never_overbooks_a_mentor_of_two,
    create_pairing_gives_a_mentee_one_live_pairing,
    accepting_proposals_never_overbooks_a_mentor,
    accepting_proposals_gives_a_mentee_one_active_pairing,
    concurrent_matcher_runs_never_overbook,
    closing_a_programme_while_a_proposal_is_accepted,
    an_enrolment_is_decided_once,
);
