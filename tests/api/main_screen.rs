//! The main screen's one-statement read (`domain::pairings::screen`) says
//! exactly what the general reads say — the joined pairings, the pages of
//! sessions with their topics, the goals with their skills — for every
//! employee of a seeded company who has pairings. SQLite has no such read.

use chrono::NaiveDate;
use entity::{employee, goal, mentoring_session, pairing_mentee, session_topic, skill};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
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

fn caller(employee: Uuid) -> Caller {
    Caller {
        subject: employee.to_string(),
        employee_id: Some(employee),
        roles: BTreeSet::new(),
    }
}

/// The screen of `employee` through the general reads, in the same shape,
/// and whether any of its pages was cut (more sessions than shown).
async fn through_general_reads(app: &TestApp, employee: Uuid) -> (Vec<ScreenPairing>, bool) {
    let caller = caller(employee);
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
    let cut = pages.values().any(|page| page.page.has_next);
    let screen = pairings
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
        .collect();
    (screen, cut)
}

/// What the seed lacks: a goal without a skill, an instant with
/// microseconds, a name JSON must escape, scores with every bit of a
/// double, a second topic and a second goal whose ids sort before the
/// first ones though they are written after them. Answers the session with
/// the odd instant (the first one booked: shown on every screen).
pub(crate) async fn with_the_edges_a_seed_lacks(app: &TestApp) -> Uuid {
    let pairings = entity::pairing::Entity::find().all(&app.db).await.unwrap();
    for (n, pairing) in pairings.iter().enumerate() {
        // Averages of doubles, as the matcher stores them.
        let score = (1.0 + n as f64) / 3.0 % 1.0 * 0.9745963848909007;
        entity::pairing::Entity::update_many()
            .col_expr(entity::pairing::Column::Score, Expr::value(Some(score)))
            .filter(entity::pairing::Column::Id.eq(pairing.id))
            .exec(&app.db)
            .await
            .unwrap();
    }
    let first_session = mentoring_session::Entity::find()
        .order_by_asc(mentoring_session::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("seeded sessions");
    let topics_of_first: Vec<Uuid> = session_topic::Entity::find()
        .filter(session_topic::Column::SessionId.eq(first_session.id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|topic| topic.skill_id)
        .collect();
    let other_skill = skill::Entity::find()
        .filter(skill::Column::Id.is_not_in(topics_of_first))
        .order_by_asc(skill::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("more skills than topics");
    session_topic::Entity::insert(session_topic::ActiveModel {
        session_id: Set(first_session.id),
        skill_id: Set(other_skill.id),
    })
    .exec(&app.db)
    .await
    .unwrap();
    let some_goal = goal::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("seeded goals");
    goal::Entity::insert(goal::ActiveModel {
        id: Set(Uuid::from_u128(1)),
        description: Set("Written last, sorted first".into()),
        ..some_goal.clone().into_active_model()
    })
    .exec(&app.db)
    .await
    .unwrap();
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
    let odd = first_session.starts_at + chrono::Duration::microseconds(123_457);
    mentoring_session::Entity::update_many()
        .col_expr(mentoring_session::Column::StartsAt, Expr::value(odd))
        .filter(mentoring_session::Column::Id.eq(first_session.id))
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
    first_session.id
}

/// Everyone who mentors or is mentored, by id.
pub(crate) async fn paired(app: &TestApp) -> BTreeSet<Uuid> {
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
    mentors.into_iter().chain(mentees).collect()
}

async fn the_one_statement_read_says_what_the_general_reads_say(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let options = SeedOptions {
        employees: 300,
        seed: 11,
        anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    };
    seed_demo(&app.db, &options).await.unwrap();
    let odd_session = with_the_edges_a_seed_lacks(&app).await;
    let people = paired(&app).await;
    assert!(people.len() > 20, "the seed pairs people: {}", people.len());

    let (mut pairings, mut sessions, mut topics, mut goals, mut skills) = (0, 0, 0, 0, 0);
    let (mut cut, mut odd_compared) = (false, false);
    for employee in people {
        let Some(screen) = main_screen(&app.db, &caller(employee), SHOWN)
            .await
            .unwrap()
        else {
            assert!(
                matches!(backend, Backend::Sqlite),
                "PostgreSQL has the read"
            );
            return;
        };
        let (general, any_cut) = through_general_reads(&app, employee).await;
        assert_eq!(screen, general, "{employee}");
        cut |= any_cut;
        for pairing in &screen {
            pairings += 1;
            sessions += pairing.sessions.len();
            odd_compared |= pairing.sessions.iter().any(|s| {
                s.id == odd_session
                    && s.topics.len() == 2
                    && s.starts_at.timestamp_subsec_micros() % 1000 != 0
            });
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
    assert!(
        odd_compared,
        "the session with two topics and an odd instant was compared"
    );
}

both!(the_one_statement_read_says_what_the_general_reads_say);
