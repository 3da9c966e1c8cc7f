//! `tandem seed-demo`: a deterministic synthetic company for demos and benchmarks.
//!
//! The same `--employees`, `--seed` and anchor date always give the same
//! rows, ids included: departments, a management pyramid with seniority and
//! generations, time zones, skill profiles, and programmes in every state
//! with enrolments, pairings, sessions, feedback and goals.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use entity::enums::*;
use entity::{
    department, employee, enrolment, goal, mentoring_session, pairing, pairing_mentee, programme,
    session_feedback, session_topic, skill, skill_assessment, skill_profile, weekly_slot,
};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set,
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// Number of employees (at least 20).
    pub employees: usize,
    /// Random seed: same seed, same company.
    pub seed: u64,
    /// Day the programmes' calendars are placed around (sessions before it are held).
    pub anchor: NaiveDate,
}

/// Counts of what was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// Departments created.
    pub departments: usize,
    /// Employees created.
    pub employees: usize,
    /// Programmes created.
    pub programmes: usize,
    /// Pairings created.
    pub pairings: usize,
    /// Sessions created.
    pub sessions: usize,
}

const FIRST_NAMES: &[&str] = &[
    "Alice",
    "Bernard",
    "Camille",
    "David",
    "Emma",
    "François",
    "Gabrielle",
    "Hugo",
    "Inès",
    "Jules",
    "Karim",
    "Léa",
    "Mathis",
    "Nora",
    "Olivier",
    "Priya",
    "Quentin",
    "Rose",
    "Samuel",
    "Thomas",
    "Ulysse",
    "Valentine",
    "William",
    "Yasmine",
    "Zoé",
    "Amara",
    "Chen",
    "Diego",
    "Fatou",
    "Kenji",
];
const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Nguyen", "Diallo", "Okafor",
    "Smith", "Rossi",
];
const DEPARTMENTS: &[(&str, &str, Option<&str>)] = &[
    ("D-GROUP", "Group", None),
    ("D-EXCO", "Executive Committee", Some("D-GROUP")),
    ("D-FIN", "Finance", Some("D-GROUP")),
    ("D-HR", "Human Resources", Some("D-GROUP")),
    ("D-IT", "Information Technology", Some("D-GROUP")),
    ("D-MKT", "Marketing", Some("D-GROUP")),
    ("D-DIGI", "Digital Marketing", Some("D-MKT")),
    ("D-SALES", "Sales", Some("D-GROUP")),
    ("D-OPS", "Operations", Some("D-GROUP")),
    ("D-LEGAL", "Legal", Some("D-GROUP")),
    ("D-RND", "Research and Development", Some("D-GROUP")),
    ("D-CS", "Customer Service", Some("D-OPS")),
];
/// Time zones with weights: mostly Paris, a few far away, one half-hour offset.
const ZONES: &[(&str, u32)] = &[
    ("Europe/Paris", 60),
    ("Europe/London", 10),
    ("America/New_York", 10),
    ("America/Montreal", 5),
    ("Asia/Singapore", 8),
    ("Asia/Kolkata", 7),
];

/// Whether the database holds any employee (the demo seed fills only an
/// empty company).
pub async fn holds_employees(db: &DatabaseConnection) -> AppResult<bool> {
    Ok(employee::Entity::find().count(db).await? > 0)
}

/// Generates the demo company in one transaction; refuses when employees already exist.
pub async fn seed_demo(db: &DatabaseConnection, options: &SeedOptions) -> AppResult<SeedSummary> {
    if options.employees < 20 {
        return Err(AppError::bad_input(
            "employees",
            "the demo company needs at least 20 employees",
        ));
    }
    if holds_employees(db).await? {
        return Err(AppError::Conflict(
            "the database already holds employees; seed an empty database".into(),
        ));
    }
    let skills = skill::Entity::find().all(db).await?;
    if skills.is_empty() {
        return Err(AppError::Conflict(
            "the skill catalogue is missing; run migrations first".into(),
        ));
    }
    let txn = super::write_txn(db).await?;
    let mut company = Company::new(options, skills.iter().map(|s| s.id).collect());
    let summary = company.write(&txn).await?;
    txn.commit().await?;
    Ok(summary)
}

/// A generated employee, before it becomes a row.
struct Person {
    id: Uuid,
    level: i32,
    department: usize,
    manager: Option<usize>,
}

struct Company<'a> {
    rng: StdRng,
    options: &'a SeedOptions,
    skills: Vec<Uuid>,
    now: chrono::DateTime<Utc>,
}

impl<'a> Company<'a> {
    fn new(options: &'a SeedOptions, skills: Vec<Uuid>) -> Self {
        let now = Utc.from_utc_datetime(&options.anchor.and_time(NaiveTime::MIN));
        Self {
            rng: StdRng::seed_from_u64(options.seed),
            options,
            skills,
            now,
        }
    }

    fn id(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    async fn write<C: ConnectionTrait>(&mut self, db: &C) -> AppResult<SeedSummary> {
        let departments = self.departments(db).await?;
        let people = self.people();
        self.write_people(db, &people, &departments).await?;
        let mut summary = SeedSummary {
            departments: departments.len(),
            employees: people.len(),
            ..Default::default()
        };
        let plans = [
            (
                "Executive Committee Digital Tandems",
                ProgrammeStatus::Active,
                ProgrammeFormat::Group,
                -70,
            ),
            (
                "Digital Leaders — wave 2",
                ProgrammeStatus::Matching,
                ProgrammeFormat::OneToOne,
                14,
            ),
            (
                "Company-wide rollout 2027",
                ProgrammeStatus::Enrolling,
                ProgrammeFormat::OneToOne,
                45,
            ),
            (
                "Pilot 2025",
                ProgrammeStatus::Closed,
                ProgrammeFormat::OneToOne,
                -300,
            ),
            (
                "Board digital literacy (draft)",
                ProgrammeStatus::Draft,
                ProgrammeFormat::Group,
                120,
            ),
        ];
        for (index, (name, status, format, start_offset)) in plans.into_iter().enumerate() {
            let plan = ProgrammePlan {
                index,
                name,
                status,
                format,
                start_offset,
            };
            let (pairings, sessions) = self.programme(db, &people, &plan).await?;
            summary.programmes += 1;
            summary.pairings += pairings;
            summary.sessions += sessions;
        }
        Ok(summary)
    }

    async fn departments<C: ConnectionTrait>(&mut self, db: &C) -> AppResult<Vec<Uuid>> {
        let ids: Vec<Uuid> = DEPARTMENTS.iter().map(|_| self.id()).collect();
        for (index, (external_id, name, parent)) in DEPARTMENTS.iter().enumerate() {
            let parent_id = parent
                .and_then(|p| DEPARTMENTS.iter().position(|d| d.0 == p))
                .map(|i| ids[i]);
            department::ActiveModel {
                id: Set(ids[index]),
                external_id: Set((*external_id).to_owned()),
                name: Set((*name).to_owned()),
                parent_id: Set(parent_id),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            }
            .insert(db)
            .await?;
        }
        Ok(ids)
    }

    /// A management pyramid: index 0 is the CEO (level 9); each person's
    /// manager is someone of a higher level generated before them.
    fn people(&mut self) -> Vec<Person> {
        let n = self.options.employees;
        let mut people: Vec<Person> = Vec::with_capacity(n);
        for i in 0..n {
            let level = level_at(i, n);
            let manager = (i > 0).then(|| {
                let above: Vec<usize> = people
                    .iter()
                    .enumerate()
                    .rev()
                    .filter(|(_, p)| p.level > level)
                    .take(12)
                    .map(|(j, _)| j)
                    .collect();
                *above.choose(&mut self.rng).unwrap_or(&0)
            });
            let department = match level {
                8.. => 1,
                _ => self.rng.random_range(2..DEPARTMENTS.len()),
            };
            people.push(Person {
                id: self.id(),
                level,
                department,
                manager,
            });
        }
        people
    }

    async fn write_people<C: ConnectionTrait>(
        &mut self,
        db: &C,
        people: &[Person],
        departments: &[Uuid],
    ) -> AppResult<()> {
        let mut employees = Vec::with_capacity(people.len());
        let mut profiles = Vec::new();
        let mut slots = Vec::new();
        for (i, person) in people.iter().enumerate() {
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i / FIRST_NAMES.len() + i) % LAST_NAMES.len()];
            let zone = self.weighted_zone();
            employees.push(employee::ActiveModel {
                id: Set(person.id),
                external_id: Set(format!("E{:06}", i + 1)),
                email: Set(format!(
                    "{}.{}.{}@demo.tandem.example",
                    ascii(first),
                    ascii(last),
                    i + 1
                )),
                given_name: Set(Some(first.to_owned())),
                family_name: Set(Some(last.to_owned())),
                display_name: Set(format!("{first} {last}")),
                job_title: Set(Some(job_title(person.level).to_owned())),
                department_id: Set(Some(departments[person.department])),
                manager_id: Set(person.manager.map(|m| people[m].id)),
                generation: Set(self.generation(person.level)),
                seniority_level: Set(Some(person.level)),
                timezone: Set(zone.to_owned()),
                status: Set(if self.rng.random_ratio(1, 40) {
                    EmployeeStatus::OnLeave
                } else {
                    EmployeeStatus::Active
                }),
                availability_version: Set(0),
                terminated_at: Set(None),
                erased_at: Set(None),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
            let direction = if person.level <= 3 {
                SkillDirection::Offers
            } else {
                SkillDirection::Wants
            };
            let mut chosen = self.skills.clone();
            chosen.shuffle(&mut self.rng);
            for skill_id in chosen.into_iter().take(self.rng.random_range(2..=4)) {
                let level = match direction {
                    SkillDirection::Offers => self.rng.random_range(2..=4),
                    SkillDirection::Wants => self.rng.random_range(1..=4),
                };
                profiles.push(skill_profile::ActiveModel {
                    id: Set(self.id()),
                    employee_id: Set(person.id),
                    skill_id: Set(skill_id),
                    direction: Set(direction),
                    level: Set(level),
                    updated_at: Set(self.now),
                });
            }
            for weekday in [1, 3] {
                let start = self.rng.random_range(8..=14) * 60;
                slots.push(weekly_slot::ActiveModel {
                    id: Set(self.id()),
                    employee_id: Set(person.id),
                    weekday: Set(weekday),
                    start_minute: Set(start),
                    end_minute: Set(start + 180),
                });
            }
        }
        insert_chunked::<employee::Entity, _>(db, employees, 17).await?;
        insert_chunked::<skill_profile::Entity, _>(db, profiles, 6).await?;
        insert_chunked::<weekly_slot::Entity, _>(db, slots, 5).await
    }

    fn weighted_zone(&mut self) -> &'static str {
        let total: u32 = ZONES.iter().map(|z| z.1).sum();
        let mut pick = self.rng.random_range(0..total);
        for (zone, weight) in ZONES {
            if pick < *weight {
                return zone;
            }
            pick -= weight;
        }
        "Europe/Paris"
    }

    fn generation(&mut self, level: i32) -> Generation {
        let options: &[Generation] = match level {
            1..=2 => &[Generation::GenZ, Generation::GenZ, Generation::GenY],
            3..=4 => &[
                Generation::GenZ,
                Generation::GenY,
                Generation::GenY,
                Generation::GenX,
            ],
            5..=6 => &[
                Generation::GenY,
                Generation::GenX,
                Generation::GenX,
                Generation::Unknown,
            ],
            _ => &[
                Generation::GenX,
                Generation::BabyBoomer,
                Generation::BabyBoomer,
            ],
        };
        *options
            .choose(&mut self.rng)
            .unwrap_or(&Generation::Unknown)
    }

    async fn programme<C: ConnectionTrait>(
        &mut self,
        db: &C,
        people: &[Person],
        plan: &ProgrammePlan,
    ) -> AppResult<(usize, usize)> {
        let programme_id = self.id();
        let starts_on = self.options.anchor + Duration::days(plan.start_offset);
        let max_mentees = if plan.format == ProgrammeFormat::Group {
            3
        } else {
            1
        };
        programme::ActiveModel {
            id: Set(programme_id),
            name: Set(plan.name.to_owned()),
            purpose: Set("Senior leaders learn digital practice from junior colleagues, and both sides break the silos between generations and departments.".to_owned()),
            status: Set(plan.status),
            format: Set(plan.format),
            max_mentees_per_mentor: Set(max_mentees),
            session_cadence_days: Set(14),
            target_sessions: Set(6),
            requires_mentor_training: Set(true),
            starts_on: Set(Some(starts_on)),
            ends_on: Set(Some(starts_on + Duration::days(180))),
            sponsor_id: Set((plan.status != ProgrammeStatus::Draft).then(|| people[0].id)),
            created_at: Set(self.now),
            updated_at: Set(self.now),
        }
        .insert(db)
        .await?;
        if plan.status == ProgrammeStatus::Draft {
            return Ok((0, 0));
        }
        // Each programme draws its own fifth of juniors and seniors.
        let mentors: Vec<usize> = (0..people.len())
            .filter(|&i| people[i].level <= 3 && i % 5 == plan.index)
            .take(people.len() / 10 + 2)
            .collect();
        let mentees: Vec<usize> = (0..people.len())
            .filter(|&i| people[i].level >= 5 && i % 5 == plan.index)
            .take(mentors.len() * max_mentees as usize)
            .collect();
        let supervisor = (0..people.len())
            .find(|&i| people[i].department == 3 && people[i].level >= 4)
            .unwrap_or(0);
        let approved = plan.status != ProgrammeStatus::Enrolling;
        let mut enrolments = Vec::new();
        for (&index, role) in mentors
            .iter()
            .map(|i| (i, ParticipantRole::Mentor))
            .chain(mentees.iter().map(|i| (i, ParticipantRole::Mentee)))
        {
            let trained = role == ParticipantRole::Mentor && approved;
            enrolments.push(enrolment::ActiveModel {
                id: Set(self.id()),
                programme_id: Set(programme_id),
                employee_id: Set(people[index].id),
                role: Set(role),
                status: Set(if approved {
                    EnrolmentStatus::Approved
                } else {
                    EnrolmentStatus::Pending
                }),
                consented_at: Set(self.now - Duration::days(plan.start_offset.abs() + 20)),
                motivation: Set(Some("I volunteer to learn and to share.".to_owned())),
                training_completed_at: Set(
                    trained.then(|| self.now - Duration::days(plan.start_offset.abs() + 10))
                ),
                supervisor_id: Set(trained.then(|| people[supervisor].id)),
                capacity: Set(max_mentees),
                decided_at: Set(approved.then_some(self.now)),
                decision_reason: Set(None),
                withdrawn_at: Set(None),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
        }
        insert_chunked::<enrolment::Entity, _>(db, enrolments, 15).await?;
        if !matches!(
            plan.status,
            ProgrammeStatus::Active | ProgrammeStatus::Closed
        ) {
            return Ok((0, 0));
        }
        self.pairings(
            db,
            people,
            programme_id,
            plan,
            &mentors,
            &mentees,
            max_mentees as usize,
            starts_on,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn pairings<C: ConnectionTrait>(
        &mut self,
        db: &C,
        people: &[Person],
        programme_id: Uuid,
        plan: &ProgrammePlan,
        mentors: &[usize],
        mentees: &[usize],
        group: usize,
        starts_on: NaiveDate,
    ) -> AppResult<(usize, usize)> {
        let mut rows = Rows::default();
        for (mentor, group_mentees) in mentors.iter().zip(mentees.chunks(group)) {
            let pairing_id = self.id();
            let status = if plan.status == ProgrammeStatus::Closed {
                if self.rng.random_ratio(1, 6) {
                    PairingStatus::EndedEarly
                } else {
                    PairingStatus::Completed
                }
            } else {
                PairingStatus::Active
            };
            rows.pairings.push(pairing::ActiveModel {
                id: Set(pairing_id),
                programme_id: Set(programme_id),
                mentor_id: Set(people[*mentor].id),
                status: Set(status),
                score: Set(None),
                reasons: Set(serde_json::json!([])),
                end_reason: Set((status == PairingStatus::EndedEarly)
                    .then(|| "Mentor moved to another site".to_owned())),
                decided_at: Set(Some(self.now)),
                ended_at: Set((plan.status == ProgrammeStatus::Closed)
                    .then_some(self.now - Duration::days(100))),
                paused_at: Set((status == PairingStatus::Paused).then_some(self.now)),
                pause_reason: Set((status == PairingStatus::Paused)
                    .then(|| "Mentee on a long assignment abroad".to_owned())),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
            for mentee in group_mentees {
                rows.mentees.push(pairing_mentee::ActiveModel {
                    pairing_id: Set(pairing_id),
                    mentee_id: Set(people[*mentee].id),
                });
                // Exit assessments exist once a programme is closed; they show progress.
                for (phase, progress) in
                    [(AssessmentPhase::Baseline, 0), (AssessmentPhase::Exit, 2)]
                {
                    if phase == AssessmentPhase::Exit && plan.status != ProgrammeStatus::Closed {
                        continue;
                    }
                    let skill_id = self.skills[mentee % self.skills.len()];
                    rows.assessments.push(skill_assessment::ActiveModel {
                        id: Set(self.id()),
                        programme_id: Set(programme_id),
                        employee_id: Set(people[*mentee].id),
                        skill_id: Set(skill_id),
                        phase: Set(phase),
                        level: Set(self.rng.random_range(0..=2) + progress),
                        assessed_at: Set(self.now),
                    });
                }
            }
            let participants: Vec<Uuid> = std::iter::once(people[*mentor].id)
                .chain(group_mentees.iter().map(|m| people[*m].id))
                .collect();
            self.sessions(
                &mut rows,
                pairing_id,
                &participants,
                starts_on,
                status,
                mentor * 7 % 5,
            );
            rows.goals.push(goal::ActiveModel {
                id: Set(self.id()),
                pairing_id: Set(pairing_id),
                skill_id: Set(self.skills.choose(&mut self.rng).copied()),
                description: Set(
                    "Publish a first post on the company's professional network".to_owned()
                ),
                status: Set(if plan.status == ProgrammeStatus::Closed {
                    GoalStatus::Achieved
                } else {
                    GoalStatus::Open
                }),
                due_on: Set(Some(starts_on + Duration::days(90))),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
        }
        rows.write(db).await
    }

    /// Six sessions a fortnight apart on a weekday at a staggered hour; those
    /// before the anchor are held (with feedback) or sometimes cancelled.
    fn sessions(
        &mut self,
        rows: &mut Rows,
        pairing_id: Uuid,
        participants: &[Uuid],
        starts_on: NaiveDate,
        status: PairingStatus,
        hour_offset: usize,
    ) {
        let first_tuesday = starts_on
            + Duration::days((8 - starts_on.weekday().number_from_monday() as i64) % 7 + 1);
        let ended = matches!(status, PairingStatus::EndedEarly);
        for n in 0..6 {
            let day = first_tuesday + Duration::days(14 * n);
            let starts_at = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
                + Duration::hours(8 + hour_offset as i64);
            let past = starts_at < self.now;
            if ended && n >= 3 {
                break;
            }
            let session_status = if !past {
                SessionStatus::Scheduled
            } else if self.rng.random_ratio(1, 8) {
                SessionStatus::Cancelled
            } else {
                SessionStatus::Held
            };
            let session_id = self.id();
            rows.sessions.push(mentoring_session::ActiveModel {
                id: Set(session_id),
                pairing_id: Set(pairing_id),
                starts_at: Set(starts_at),
                ends_at: Set(starts_at + Duration::minutes(60)),
                mode: Set(if n % 2 == 0 {
                    SessionMode::Video
                } else {
                    SessionMode::InPerson
                }),
                status: Set(session_status),
                agenda: Set(Some(format!("Session {}", n + 1))),
                private_notes: Set(None),
                cancel_reason: Set((session_status == SessionStatus::Cancelled)
                    .then(|| "Agenda conflict".to_owned())),
                sequence: Set(0),
                created_by: Set(Some(participants[0])),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
            rows.topics.push(session_topic::ActiveModel {
                session_id: Set(session_id),
                skill_id: Set(self.skills[(n as usize + hour_offset) % self.skills.len()]),
            });
            if session_status == SessionStatus::Held {
                for author in participants {
                    rows.feedback.push(session_feedback::ActiveModel {
                        id: Set(self.id()),
                        session_id: Set(session_id),
                        author_id: Set(*author),
                        rating: Set(self.rng.random_range(3..=5)),
                        recommend: Set(Some(self.rng.random_range(5..=10))),
                        comment: Set(None),
                        submitted_at: Set(starts_at + Duration::hours(2)),
                    });
                }
            }
        }
    }
}

struct ProgrammePlan {
    index: usize,
    name: &'static str,
    status: ProgrammeStatus,
    format: ProgrammeFormat,
    start_offset: i64,
}

/// Rows of one programme's pairings, written in bulk.
#[derive(Default)]
struct Rows {
    pairings: Vec<pairing::ActiveModel>,
    mentees: Vec<pairing_mentee::ActiveModel>,
    assessments: Vec<skill_assessment::ActiveModel>,
    sessions: Vec<mentoring_session::ActiveModel>,
    topics: Vec<session_topic::ActiveModel>,
    feedback: Vec<session_feedback::ActiveModel>,
    goals: Vec<goal::ActiveModel>,
}

impl Rows {
    async fn write<C: ConnectionTrait>(self, db: &C) -> AppResult<(usize, usize)> {
        let counts = (self.pairings.len(), self.sessions.len());
        insert_chunked::<pairing::Entity, _>(db, self.pairings, 11).await?;
        insert_chunked::<pairing_mentee::Entity, _>(db, self.mentees, 2).await?;
        insert_chunked::<skill_assessment::Entity, _>(db, self.assessments, 7).await?;
        insert_chunked::<mentoring_session::Entity, _>(db, self.sessions, 12).await?;
        insert_chunked::<session_topic::Entity, _>(db, self.topics, 2).await?;
        insert_chunked::<session_feedback::Entity, _>(db, self.feedback, 7).await?;
        insert_chunked::<goal::Entity, _>(db, self.goals, 8).await?;
        Ok(counts)
    }
}

/// Inserts rows in chunks that stay under the databases' bound-parameter
/// limits (PostgreSQL 65,535; SQLite 32,766).
pub async fn insert_chunked<E, C>(
    db: &C,
    rows: Vec<E::ActiveModel>,
    columns: usize,
) -> AppResult<()>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let per_chunk = (32_000 / columns.max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(per_chunk).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Seniority by position in the pyramid: one CEO (9), a thin top, a wide base.
fn level_at(index: usize, total: usize) -> i32 {
    if index == 0 {
        return 9;
    }
    let share = index as f64 / total as f64;
    const TIERS: [(f64, i32); 8] = [
        (0.02, 8),
        (0.06, 7),
        (0.14, 6),
        (0.28, 5),
        (0.45, 4),
        (0.65, 3),
        (0.85, 2),
        (1.01, 1),
    ];
    TIERS
        .iter()
        .find(|(upto, _)| share < *upto)
        .map_or(1, |t| t.1)
}

fn job_title(level: i32) -> &'static str {
    match level {
        9 => "Chief Executive Officer",
        8 => "Executive Vice President",
        7 => "Director",
        6 => "Senior Manager",
        5 => "Manager",
        4 => "Senior Specialist",
        3 => "Specialist",
        2 => "Associate",
        _ => "Apprentice",
    }
}

/// Lower-case ASCII for email local parts (drops accents the demo names carry).
fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'é' | 'è' => 'e',
            'ç' => 'c',
            'ï' | 'î' => 'i',
            other => other,
        })
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pyramid_has_one_ceo_and_a_wide_base() {
        let levels: Vec<i32> = (0..1000).map(|i| level_at(i, 1000)).collect();
        assert_eq!(levels.iter().filter(|l| **l == 9).count(), 1);
        assert!(
            levels.iter().filter(|l| **l <= 3).count()
                > levels.iter().filter(|l| **l >= 6).count() * 2
        );
        assert!(levels.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn every_manager_is_more_senior() {
        let options = SeedOptions {
            employees: 300,
            seed: 7,
            anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        };
        let mut company = Company::new(&options, vec![Uuid::nil()]);
        let people = company.people();
        for person in &people[1..] {
            let manager = &people[person.manager.unwrap()];
            assert!(manager.level > person.level);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_company() {
        let options = SeedOptions {
            employees: 50,
            seed: 42,
            anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        };
        let ids = |o: &SeedOptions| {
            Company::new(o, vec![Uuid::nil()])
                .people()
                .iter()
                .map(|p| (p.id, p.manager))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&options), ids(&options));
        assert_ne!(
            ids(&options),
            ids(&SeedOptions {
                seed: 43,
                ..options.clone()
            })
        );
    }
}
