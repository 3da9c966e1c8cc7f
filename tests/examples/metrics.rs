//! Benchmark of `programmeMetrics` with every field (four breakdowns, weekly
//! and monthly timelines, skill progress), and of the programme's CSV
//! exports (time to the last byte, size, and the process's peak RSS while
//! they stream), on a programme of 12,000
//! participants (4,000 mentors, 8,000 mentees, 4,000 pairings) and 150,000
//! sessions with their feedback, on PostgreSQL. Baseline in the same run: a
//! trivial query (`programme(id) { name }`) through the same HTTP, token and
//! GraphQL path.
//!
//! ```text
//! cargo run --release -p tandem-tests --example metrics -- [requests]
//! ```
//! `BENCH_PG_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! is where it creates, and then drops, its database (`BENCH_KEEP=1` keeps
//! it, for EXPLAIN). Two servers answer: one computes every request
//! (`METRICS_CACHE_SECS=0`), one keeps figures for the default 60 s; their
//! first answers must be equal.

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use entity::enums::{
    AssessmentPhase, EmployeeStatus, EnrolmentStatus, Generation, PairingStatus, ParticipantRole,
    ProgrammeFormat, ProgrammeStatus, SessionMode, SessionStatus,
};
use entity::{
    department, employee, enrolment, mentoring_session, pairing, pairing_mentee, programme,
    session_feedback, skill, skill_assessment,
};
use rand::{Rng as _, SeedableRng as _};
use sea_orm::{ConnectionTrait, Database, EntityTrait, Set};
use serde_json::{Value, json};
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::domain::seed::insert_chunked;
use tandem::startup::{self, Application};
use uuid::Uuid;

#[path = "support/memory.rs"]
mod memory;
use memory::{reset_peak, status_kib};

const FULL: &str = "query($p: UUID!) { programmeMetrics(programmeId: $p) {
  mentors mentees mentorsTrained activePairings completedPairings endedEarlyPairings sessionsHeld sessionsCancelled
  crossDepartmentShare averageRating nps mentorRetentionRate
  d: breakdown(dimension: DEPARTMENT) { key participants sessionsHeld averageRating suppressed }
  g: breakdown(dimension: GENERATION) { key participants sessionsHeld averageRating suppressed }
  r: breakdown(dimension: ROLE) { key participants sessionsHeld averageRating suppressed }
  s: breakdown(dimension: SENIORITY) { key participants sessionsHeld averageRating suppressed }
  w: timeline(interval: WEEK) { periodStart sessionsHeld activePairings averageRating }
  m: timeline(interval: MONTH) { periodStart sessionsHeld activePairings averageRating }
  skillProgress { skill { slug } participants baselineAverage exitAverage suppressed } } }";
const TRIVIAL: &str = "query($p: UUID!) { programme(id: $p) { name } }";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let requests: usize = std::env::args().nth(1).map_or(Ok(30), |a| a.parse())?;
    let admin_url = std::env::var("BENCH_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("tandem_bench_metrics_{}", Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let url = format!(
        "{}/{name}",
        admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(s, _)| s)
    );
    let env = HashMap::from([
        ("DATABASE_URL".to_owned(), url),
        ("AUTH_DEV_MODE".to_owned(), "true".to_owned()),
        ("BIND_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
    ]);
    let config = Config::from_source(&env).expect("benchmark configuration");
    let db = startup::connect(&config.database).await?;
    startup::migrate(&db).await?;
    let started = Instant::now();
    let (programme, sessions) = populate(&db).await?;
    db.execute_unprepared("ANALYZE").await?;
    println!(
        "populated in {:.0} s: 12,000 participants, {sessions} sessions\n",
        started.elapsed().as_secs_f64()
    );

    let key = DevKey::load_or_create(&db).await?;
    let token = dev::issue(
        &key,
        &DevTokenRequest {
            email: None,
            roles: vec!["analyst".into()],
            ttl_secs: 3600,
        },
    )?;
    // Two servers on the one database: one computes every request
    // (METRICS_CACHE_SECS=0: the cost of the figures), the other keeps them
    // for the default bound (what a dashboard reloaded by many sees).
    let mut computing_env = env.clone();
    computing_env.insert("METRICS_CACHE_SECS".to_owned(), "0".to_owned());
    let computing_config = Config::from_source(&computing_env).expect("benchmark configuration");
    let computing = serve(computing_config, &db).await?;
    let address = serve(config, &db).await?;
    let client = reqwest::Client::new();
    let answer = async |address: &str, query: &str| -> anyhow::Result<(Duration, Value)> {
        let started = Instant::now();
        let body: Value = client
            .post(address)
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": { "p": programme } }))
            .send()
            .await?
            .json()
            .await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(body.get("errors").is_none(), "{body}");
        Ok((elapsed, body))
    };
    let call =
        async |query: &str| -> anyhow::Result<Duration> { Ok(answer(&computing, query).await?.0) };
    let (_, computed) = answer(&computing, FULL).await?;
    let (_, kept) = answer(&address, FULL).await?;
    anyhow::ensure!(
        computed == kept,
        "the kept figures differ from the computed ones"
    );
    for _ in 0..2 {
        call(FULL).await?;
    }
    let (mut full, mut trivial, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..requests {
        full.push(call(FULL).await?);
        cached.push(answer(&address, FULL).await?.0);
        trivial.push(call(TRIVIAL).await?);
    }
    let parts = [
        (
            "summary (programme-level figures)",
            "mentors mentees sessionsHeld averageRating nps crossDepartmentShare mentorRetentionRate",
        ),
        (
            "breakdown(DEPARTMENT)",
            "breakdown(dimension: DEPARTMENT) { key participants sessionsHeld averageRating }",
        ),
        (
            "breakdown(ROLE)",
            "breakdown(dimension: ROLE) { key participants sessionsHeld averageRating }",
        ),
        (
            "timeline(WEEK)",
            "timeline(interval: WEEK) { periodStart sessionsHeld activePairings averageRating }",
        ),
        (
            "skillProgress",
            "skillProgress { participants baselineAverage exitAverage }",
        ),
    ];
    let mut part_times = Vec::new();
    for (label, fields) in parts {
        let query = format!(
            "query($p: UUID!) {{ programmeMetrics(programmeId: $p) {{ mentors {fields} }} }}"
        );
        let mut samples = Vec::new();
        for _ in 0..(requests / 3).max(3) {
            samples.push(call(&query).await?);
        }
        part_times.push((label, samples));
    }
    println!("| query | median | p99 | requests |");
    println!("| --- | ---: | ---: | ---: |");
    let mut rows: Vec<(&str, &mut Vec<Duration>)> = vec![
        ("programmeMetrics, every field, computed", &mut full),
        ("programmeMetrics, every field, kept ≤ 60 s", &mut cached),
        ("baseline: programme(id) { name }", &mut trivial),
    ];
    for (label, samples) in &mut part_times {
        rows.push((label, samples));
    }
    for (label, samples) in rows {
        samples.sort();
        let p99 = samples[((samples.len() - 1) as f64 * 0.99).round() as usize];
        println!(
            "| {label} | {:.1} ms | {:.1} ms | {} |",
            ms(samples[samples.len() / 2]),
            ms(p99),
            samples.len()
        );
    }
    exports(&client, &computing, &key, programme, requests).await?;
    db.close().await?;
    if std::env::var_os("BENCH_KEEP").is_some() {
        println!("kept database {name}");
    } else {
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

/// Starts a server on `db` with `config`; its GraphQL address.
async fn serve(config: Config, db: &sea_orm::DatabaseConnection) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind(config.bind_addr)?;
    let app = Application::with_listener(config, db.clone(), listener).await?;
    let address = format!("http://127.0.0.1:{}/graphql", app.port());
    tokio::spawn(app.run());
    Ok(address)
}

/// Each CSV export of the programme, downloaded `requests / 3` times (at
/// least 3): median and p99 time to the last byte, rows, bytes, and the
/// peak RSS while they stream (the high-water mark is reset first).
async fn exports(
    client: &reqwest::Client,
    graphql: &str,
    key: &DevKey,
    programme: Uuid,
    requests: usize,
) -> anyhow::Result<()> {
    let admin = dev::issue(
        key,
        &DevTokenRequest {
            email: None,
            roles: vec!["admin".into()],
            ttl_secs: 3600,
        },
    )?;
    let base = graphql.trim_end_matches("/graphql");
    reset_peak();
    let rss_before = status_kib("VmRSS:");
    println!("\n| export | median | p99 | rows | bytes |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for file in ["enrolments", "pairings", "sessions", "metrics"] {
        let url = format!("{base}/exports/programmes/{programme}/{file}.csv");
        let mut samples = Vec::new();
        let mut size = (0, 0);
        for _ in 0..(requests / 3).max(3) {
            let started = Instant::now();
            let response = client.get(&url).bearer_auth(&admin).send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{file}: {}",
                response.status()
            );
            let body = response.bytes().await?;
            samples.push(started.elapsed());
            let rows = body.windows(2).filter(|w| *w == b"\r\n").count() - 1;
            size = (rows, body.len());
        }
        samples.sort();
        let p99 = samples[((samples.len() - 1) as f64 * 0.99).round() as usize];
        println!(
            "| {file}.csv | {:.1} ms | {:.1} ms | {} | {} |",
            ms(samples[samples.len() / 2]),
            ms(p99),
            size.0,
            size.1
        );
    }
    println!(
        "\nRSS before the exports {} MiB; peak while they streamed {} MiB",
        rss_before / 1024,
        status_kib("VmHWM:") / 1024
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes the programme; answers its id and the number of sessions.
async fn populate(db: &sea_orm::DatabaseConnection) -> anyhow::Result<(Uuid, usize)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12_000);
    let now = Utc::now();
    let start = now - Days::days(364);
    let departments: Vec<department::ActiveModel> = (0..40)
        .map(|i| department::ActiveModel {
            id: Set(Uuid::now_v7()),
            external_id: Set(format!("D-{i}")),
            name: Set(format!("Department {i}")),
            parent_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    let department_ids: Vec<Uuid> = departments.iter().map(|d| *d.id.as_ref()).collect();
    insert_chunked::<department::Entity, _>(db, departments, 6).await?;
    let people: Vec<Uuid> = (0..12_000).map(|_| Uuid::now_v7()).collect();
    let employees: Vec<employee::ActiveModel> = people
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mentor = i < 4_000;
            employee::ActiveModel {
                id: Set(*id),
                external_id: Set(format!("E-{i}")),
                email: Set(format!("person{i}@corp.example")),
                given_name: Set(None),
                family_name: Set(None),
                display_name: Set(format!("Person {i}")),
                job_title: Set(None),
                department_id: Set(Some(
                    department_ids[rng.random_range(0..department_ids.len())],
                )),
                manager_id: Set(None),
                generation: Set(if mentor {
                    Generation::GenZ
                } else {
                    [Generation::GenX, Generation::BabyBoomer][i % 2]
                }),
                seniority_level: Set(Some(if mentor {
                    rng.random_range(1..=4)
                } else {
                    rng.random_range(7..=12)
                })),
                timezone: Set("Europe/Paris".to_owned()),
                status: Set(if i % 23 == 0 {
                    EmployeeStatus::Terminated
                } else {
                    EmployeeStatus::Active
                }),
                availability_version: Set(0),
                terminated_at: Set(None),
                erased_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
        })
        .collect();
    insert_chunked::<employee::Entity, _>(db, employees, 16).await?;
    let programme_id = Uuid::now_v7();
    programme::Entity::insert(programme::ActiveModel {
        id: Set(programme_id),
        name: Set("Group-wide reverse mentoring".to_owned()),
        purpose: Set("Digital culture".to_owned()),
        status: Set(ProgrammeStatus::Active),
        format: Set(ProgrammeFormat::Group),
        max_mentees_per_mentor: Set(2),
        session_cadence_days: Set(14),
        target_sessions: Set(20),
        requires_mentor_training: Set(true),
        starts_on: Set(Some(start.date_naive())),
        ends_on: Set(None),
        sponsor_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    let enrolments: Vec<enrolment::ActiveModel> = people
        .iter()
        .enumerate()
        .map(|(i, id)| enrolment::ActiveModel {
            id: Set(Uuid::now_v7()),
            programme_id: Set(programme_id),
            employee_id: Set(*id),
            role: Set(if i < 4_000 {
                ParticipantRole::Mentor
            } else {
                ParticipantRole::Mentee
            }),
            status: Set(EnrolmentStatus::Approved),
            consented_at: Set(start),
            motivation: Set(None),
            training_completed_at: Set((i < 4_000 && i % 5 != 0).then_some(start)),
            supervisor_id: Set(None),
            capacity: Set(2),
            decided_at: Set(Some(start)),
            decision_reason: Set(None),
            withdrawn_at: Set(None),
            created_at: Set(start),
            updated_at: Set(start),
        })
        .collect();
    insert_chunked::<enrolment::Entity, _>(db, enrolments, 15).await?;
    let mut pairings = Vec::new();
    let mut mentees = Vec::new();
    let mut sessions = Vec::new();
    let mut feedback = Vec::new();
    for m in 0..4_000 {
        let pairing_id = Uuid::now_v7();
        let status = [
            PairingStatus::Active,
            PairingStatus::Active,
            PairingStatus::Completed,
            PairingStatus::EndedEarly,
        ][m % 4];
        let ended = matches!(status, PairingStatus::Completed | PairingStatus::EndedEarly)
            .then(|| now - Days::days(rng.random_range(1..60)));
        pairings.push(pairing::ActiveModel {
            id: Set(pairing_id),
            programme_id: Set(programme_id),
            mentor_id: Set(people[m]),
            status: Set(status),
            score: Set(None),
            reasons: Set(json!([])),
            end_reason: Set(None),
            decided_at: Set(Some(start)),
            ended_at: Set(ended),
            paused_at: Set(None),
            pause_reason: Set(None),
            created_at: Set(start),
            updated_at: Set(start),
        });
        let pair = [people[4_000 + 2 * m], people[4_001 + 2 * m]];
        for mentee in pair {
            mentees.push(pairing_mentee::ActiveModel {
                pairing_id: Set(pairing_id),
                mentee_id: Set(mentee),
            });
        }
        for s in 0..37 + usize::from(m % 2 == 0) {
            let id = Uuid::now_v7();
            let starts = start + Days::days(s as i64 * 9 + rng.random_range(0..7)) + Days::hours(9);
            let status = if starts > now {
                SessionStatus::Scheduled
            } else if rng.random_range(0..10) == 0 {
                SessionStatus::Cancelled
            } else {
                SessionStatus::Held
            };
            sessions.push(mentoring_session::ActiveModel {
                id: Set(id),
                pairing_id: Set(pairing_id),
                starts_at: Set(starts),
                ends_at: Set(starts + Days::hours(1)),
                mode: Set(SessionMode::Video),
                status: Set(status),
                agenda: Set(None),
                private_notes: Set(None),
                cancel_reason: Set(None),
                sequence: Set(0),
                created_by: Set(None),
                created_at: Set(start),
                updated_at: Set(start),
            });
            if status == SessionStatus::Held && rng.random_range(0..2) == 0 {
                feedback.push(session_feedback::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    session_id: Set(id),
                    author_id: Set(pair[s % 2]),
                    rating: Set(rng.random_range(2..=5)),
                    recommend: Set(Some(rng.random_range(4..=10))),
                    comment: Set(None),
                    submitted_at: Set(starts),
                });
            }
        }
    }
    let session_count = sessions.len();
    insert_chunked::<pairing::Entity, _>(db, pairings, 11).await?;
    insert_chunked::<pairing_mentee::Entity, _>(db, mentees, 2).await?;
    insert_chunked::<mentoring_session::Entity, _>(db, sessions, 12).await?;
    insert_chunked::<session_feedback::Entity, _>(db, feedback, 7).await?;
    let skills: Vec<Uuid> = skill::Entity::find()
        .all(db)
        .await?
        .iter()
        .map(|s| s.id)
        .take(6)
        .collect();
    let mut assessments = Vec::new();
    for (i, person) in people.iter().enumerate().skip(4_000) {
        for skill_id in skills.iter().skip(i % 3).take(3) {
            for (phase, level) in [
                (AssessmentPhase::Baseline, rng.random_range(0..=2)),
                (AssessmentPhase::Exit, rng.random_range(1..=4)),
            ] {
                assessments.push(skill_assessment::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    programme_id: Set(programme_id),
                    employee_id: Set(*person),
                    skill_id: Set(*skill_id),
                    phase: Set(phase),
                    level: Set(level),
                    assessed_at: Set(now),
                });
            }
        }
    }
    insert_chunked::<skill_assessment::Entity, _>(db, assessments, 7).await?;
    Ok((programme_id, session_count))
}
