//! The main screen's one-statement read (`domain::pairings::screen`) says
//! exactly what the general reads say — the joined pairings, the pages of
//! sessions with their topics, the goals with their skills — for every
//! employee of a seeded company who has pairings. SQLite has no such read.

use chrono::NaiveDate;
use entity::{employee, goal, mentoring_session, pairing_mentee};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::BTreeSet;
use tandem::auth::Caller;
use tandem::domain::pagination::PageRequest;
use tandem::domain::pairings::joined::Relations;
use tandem::domain::pairings::screen::{
    Named, ScreenGoal, ScreenPairing, ScreenSession, main_screen,
};
use tandem::domain::pairings::{goals_of, mine_with};
use tandem::domain::seed::{SeedOptions, seed_demo};
use tandem::domain::session_pages::pages_of;
use uuid::Uuid;

use crate::both;
use crate::helpers::{Backend, TestApp};

/// Fewer than most seeded pairings have, so pages are cut.
const SHOWN: u64 = 3;

/// The screen of `employee` through the general reads, in the same shape.
async fn through_general_reads(app: &TestApp, employee: Uuid) -> Vec<ScreenPairing> {
    let caller = Caller {
        subject: employee.to_string(),
        employee_id: Some(employee),
        roles: BTreeSet::new(),
    };
    let relations = Relations {
        programme: true,
        mentor: true,
        mentees: true,
    };
    let pairings = mine_with(&app.db, &caller, None, relations).await.unwrap();
    let ids: Vec<Uuid> = pairings.iter().map(|p| p.pairing.id).collect();
    let request = PageRequest {
        first: SHOWN,
        after: None,
    };
    let mut pages = pages_of(&app.db, &ids, &request).await.unwrap();
    let mut goals = goals_of(&app.db, &ids).await.unwrap();
    pairings
        .into_iter()
        .map(|read| {
            let id = read.pairing.id;
            let page = pages.remove(&id).expect("a page for every pairing");
            let mut topics = page.topics;
            ScreenPairing {
                id,
                status: read.pairing.status,
                score: read.pairing.score,
                mentor_id: read.pairing.mentor_id,
                programme_name: read.programme.expect("asked").name,
                mentor_name: read.mentor.expect("asked").display_name,
                mentees: read
                    .mentees
                    .expect("asked")
                    .into_iter()
                    .map(|m| Named {
                        id: m.id,
                        name: m.display_name,
                    })
                    .collect(),
                sessions: page
                    .page
                    .items
                    .into_iter()
                    .map(|(_, s)| ScreenSession {
                        id: s.id,
                        starts_at: s.starts_at,
                        ends_at: s.ends_at,
                        status: s.status,
                        mode: s.mode,
                        topics: topics
                            .remove(&s.id)
                            .unwrap_or_default()
                            .iter()
                            .map(|k| Named {
                                id: k.id,
                                name: k.name.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                goals: goals
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|g| ScreenGoal {
                        id: g.goal.id,
                        description: g.goal.description,
                        status: g.goal.status,
                        due_on: g.goal.due_on,
                        skill: g.skill.map(|k| Named {
                            id: k.id,
                            name: k.name,
                        }),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A goal without a skill, an instant with microseconds, a name JSON must
/// escape: the seed has none of them.
async fn with_the_edges_a_seed_lacks(app: &TestApp) {
    let goal = goal::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("seeded goals");
    goal::Entity::update_many()
        .col_expr(goal::Column::SkillId, Expr::value(Option::<Uuid>::None))
        .filter(goal::Column::Id.eq(goal.id))
        .exec(&app.db)
        .await
        .unwrap();
    let session = mentoring_session::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("seeded sessions");
    let odd = session.starts_at + chrono::Duration::microseconds(123_457);
    mentoring_session::Entity::update_many()
        .col_expr(mentoring_session::Column::StartsAt, Expr::value(odd))
        .filter(mentoring_session::Column::Id.eq(session.id))
        .exec(&app.db)
        .await
        .unwrap();
    let mentee = pairing_mentee::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("seeded mentees");
    employee::Entity::update_many()
        .col_expr(
            employee::Column::DisplayName,
            Expr::value("Zoë \"Z\" O'Brien \\ ✓\u{1F600}"),
        )
        .filter(employee::Column::Id.eq(mentee.mentee_id))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn the_one_statement_read_says_what_the_general_reads_say(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let options = SeedOptions {
        employees: 300,
        seed: 11,
        anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    };
    seed_demo(&app.db, &options).await.unwrap();
    with_the_edges_a_seed_lacks(&app).await;
    let mentors: Vec<Uuid> = entity::pairing::Entity::find()
        .select_only()
        .column(entity::pairing::Column::MentorId)
        .into_tuple()
        .all(&app.db)
        .await
        .unwrap();
    let mentees: Vec<Uuid> = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::MenteeId)
        .into_tuple()
        .all(&app.db)
        .await
        .unwrap();
    let people: BTreeSet<Uuid> = mentors.into_iter().chain(mentees).collect();
    assert!(people.len() > 20, "the seed pairs people: {}", people.len());

    let (mut pairings, mut sessions, mut topics, mut goals, mut skills) = (0, 0, 0, 0, 0);
    let mut cut = false;
    for employee in people {
        let Some(screen) = main_screen(&app.db, employee, SHOWN).await.unwrap() else {
            assert!(
                matches!(backend, Backend::Sqlite),
                "PostgreSQL has the read"
            );
            return;
        };
        assert_eq!(
            screen,
            through_general_reads(&app, employee).await,
            "{employee}"
        );
        for pairing in &screen {
            pairings += 1;
            sessions += pairing.sessions.len();
            cut |= pairing.sessions.len() == SHOWN as usize;
            topics += pairing
                .sessions
                .iter()
                .map(|s| s.topics.len())
                .sum::<usize>();
            goals += pairing.goals.len();
            skills += pairing.goals.iter().filter(|g| g.skill.is_some()).count();
        }
    }
    assert!(
        matches!(backend, Backend::Postgres(_)),
        "SQLite answers None"
    );
    // What was compared covers the screen's cases.
    assert!(
        pairings > 20 && sessions > 50 && topics > 20,
        "{pairings} {sessions} {topics}"
    );
    assert!(
        goals > 5 && skills > 0 && skills < goals,
        "{goals} goals, {skills} with a skill"
    );
    assert!(cut, "some pairing has more sessions than the screen shows");
}

both!(the_one_statement_read_says_what_the_general_reads_say);
