//! The skill catalogue, employees' skill profiles (what they offer and
//! want) and their self-assessments per programme.

use std::collections::HashMap;

use chrono::Utc;
use entity::enums::{AssessmentPhase, EnrolmentStatus, SkillDirection};
use entity::{enrolment, skill, skill_assessment, skill_profile};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// The digital topics reverse mentors coach on: (slug, name, category).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("social-networks", "Social networks", "Social media"),
    (
        "linkedin",
        "Professional networking (LinkedIn)",
        "Social media",
    ),
    (
        "e-reputation",
        "E-reputation and personal branding",
        "Social media",
    ),
    (
        "data-protection",
        "Personal data protection",
        "Security and privacy",
    ),
    (
        "cybersecurity-hygiene",
        "Cybersecurity hygiene",
        "Security and privacy",
    ),
    (
        "online-search",
        "Online search and fact-checking",
        "Information",
    ),
    ("seo", "SEO and online visibility", "Information"),
    ("data-visualisation", "Data visualisation", "Information"),
    (
        "collaborative-tools",
        "Collaborative tools",
        "Digital workplace",
    ),
    ("video-meetings", "Video meetings", "Digital workplace"),
    ("mobile-apps", "Mobile apps", "Digital workplace"),
    ("ai-assistants", "AI assistants", "Emerging technology"),
    ("digital-strategy", "Digital strategy", "Strategy"),
    (
        "e-commerce",
        "E-commerce and digital customer journeys",
        "Strategy",
    ),
];

/// Inserts the catalogue skills that are missing (idempotent, safe for
/// concurrent replicas). Reference data, not demo data: the service needs it.
pub async fn ensure_catalogue(db: &DatabaseConnection) -> AppResult<()> {
    let now = Utc::now();
    let rows = CATALOGUE
        .iter()
        .map(|(slug, name, category)| skill::ActiveModel {
            id: Set(super::new_id()),
            slug: Set((*slug).to_owned()),
            name: Set((*name).to_owned()),
            category: Set((*category).to_owned()),
            created_at: Set(now),
        });
    skill::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([skill::Column::Slug])
        .exec(db)
        .await?;
    Ok(())
}

/// The whole catalogue, by category then name.
pub async fn list(db: &DatabaseConnection) -> AppResult<Vec<skill::Model>> {
    Ok(skill::Entity::find()
        .order_by_asc(skill::Column::Category)
        .order_by_asc(skill::Column::Name)
        .all(db)
        .await?)
}

/// Skills by id (for DataLoaders).
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, skill::Model>> {
    let rows = skill::Entity::find()
        .filter(skill::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|s| (s.id, s)).collect())
}

/// Skill profile entries of several employees at once, grouped by employee.
pub async fn profiles_of(
    db: &DatabaseConnection,
    employee_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<skill_profile::Model>>> {
    let rows = skill_profile::Entity::find()
        .filter(skill_profile::Column::EmployeeId.is_in(employee_ids.iter().copied()))
        .order_by_asc(skill_profile::Column::Direction)
        .order_by_desc(skill_profile::Column::Level)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<skill_profile::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.employee_id).or_default().push(row);
    }
    Ok(grouped)
}

/// One entry of a skill profile or assessment, as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelEntry {
    /// The skill.
    pub skill_id: Uuid,
    /// 0 none .. 4 expert.
    pub level: i32,
}

/// Checks levels (0–4), that every skill exists, and the entry count.
async fn validate_levels<C: ConnectionTrait>(db: &C, entries: &[LevelEntry]) -> AppResult<()> {
    if entries.len() > 50 {
        return Err(AppError::bad_input("entries", "at most 50 entries"));
    }
    if entries.iter().any(|e| !(0..=4).contains(&e.level)) {
        return Err(AppError::bad_input(
            "level",
            "levels go from 0 (none) to 4 (expert)",
        ));
    }
    let mut ids: Vec<Uuid> = entries.iter().map(|e| e.skill_id).collect();
    ids.sort();
    ids.dedup();
    let known = skill::Entity::find()
        .filter(skill::Column::Id.is_in(ids.clone()))
        .count(db)
        .await?;
    if known != ids.len() as u64 {
        return Err(AppError::bad_input(
            "skillId",
            "every skill must come from the catalogue",
        ));
    }
    Ok(())
}

/// Why a profile entry's level cannot count, if it cannot. A profile level
/// is what the matcher weighs: OFFERS, the level the person can teach;
/// WANTS, the level they want to reach — both 1 (basics) to 4 (expert). A
/// 0 would weigh nothing (an executive who "knows nothing and wants SEO"
/// wants to reach level 1 or more), so it is refused rather than silently
/// ignored. Self-assessments keep 0 ("none"), a real starting point.
pub fn profile_level_refusal(direction: SkillDirection, level: i32) -> Option<&'static str> {
    if (1..=4).contains(&level) {
        return None;
    }
    Some(match direction {
        SkillDirection::Wants => {
            "a WANTS level is the level to reach, 1 (basics) to 4 (expert); leave the skill out to want nothing"
        }
        SkillDirection::Offers => {
            "an OFFERS level is the level taught, 1 (basics) to 4 (expert); leave the skill out to offer nothing"
        }
    })
}

/// Replaces the caller's own skill profile (what they offer and want).
pub async fn set_profile(
    db: &DatabaseConnection,
    caller: &Caller,
    entries: Vec<(LevelEntry, SkillDirection)>,
) -> AppResult<Vec<skill_profile::Model>> {
    let me = caller
        .employee_id
        .ok_or_else(|| AppError::forbidden("only employees have a skill profile"))?;
    let levels: Vec<LevelEntry> = entries.iter().map(|(e, _)| *e).collect();
    let mut keys: Vec<(Uuid, SkillDirection)> =
        entries.iter().map(|(e, d)| (e.skill_id, *d)).collect();
    keys.sort_by_key(|(id, d)| (*id, *d == SkillDirection::Wants));
    keys.dedup();
    if keys.len() != entries.len() {
        return Err(AppError::bad_input(
            "entries",
            "each skill appears once per direction",
        ));
    }
    if let Some(refusal) = entries
        .iter()
        .find_map(|(entry, direction)| profile_level_refusal(*direction, entry.level))
    {
        return Err(AppError::bad_input("level", refusal));
    }
    let txn = super::write_txn(db).await?;
    validate_levels(&txn, &levels).await?;
    skill_profile::Entity::delete_many()
        .filter(skill_profile::Column::EmployeeId.eq(me))
        .exec(&txn)
        .await?;
    let now = Utc::now();
    let rows: Vec<skill_profile::ActiveModel> = entries
        .iter()
        .map(|(entry, direction)| skill_profile::ActiveModel {
            id: Set(super::new_id()),
            employee_id: Set(me),
            skill_id: Set(entry.skill_id),
            direction: Set(*direction),
            level: Set(entry.level),
            updated_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        skill_profile::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(profiles_of(db, &[me])
        .await?
        .remove(&me)
        .unwrap_or_default())
}

/// Records the caller's BASELINE or EXIT levels for a programme they take
/// part in; a second submission of the same phase replaces the first.
pub async fn submit_assessment(
    db: &DatabaseConnection,
    caller: &Caller,
    programme_id: Uuid,
    phase: AssessmentPhase,
    entries: Vec<LevelEntry>,
) -> AppResult<()> {
    let me = caller
        .employee_id
        .ok_or_else(|| AppError::forbidden("only participants assess their skills"))?;
    let txn = super::write_txn(db).await?;
    super::programmes::get(&txn, caller, programme_id).await?;
    let takes_part = enrolment::Entity::find()
        .filter(enrolment::Column::ProgrammeId.eq(programme_id))
        .filter(enrolment::Column::EmployeeId.eq(me))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Approved))
        .one(&txn)
        .await?
        .is_some();
    if !takes_part {
        return Err(AppError::forbidden(
            "only the programme's approved participants assess their skills",
        ));
    }
    let mut ids: Vec<Uuid> = entries.iter().map(|e| e.skill_id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != entries.len() {
        return Err(AppError::bad_input("entries", "each skill appears once"));
    }
    validate_levels(&txn, &entries).await?;
    skill_assessment::Entity::delete_many()
        .filter(skill_assessment::Column::ProgrammeId.eq(programme_id))
        .filter(skill_assessment::Column::EmployeeId.eq(me))
        .filter(skill_assessment::Column::Phase.eq(phase))
        .filter(skill_assessment::Column::SkillId.is_in(ids))
        .exec(&txn)
        .await?;
    let now = Utc::now();
    let rows: Vec<skill_assessment::ActiveModel> = entries
        .iter()
        .map(|entry| skill_assessment::ActiveModel {
            id: Set(super::new_id()),
            programme_id: Set(programme_id),
            employee_id: Set(me),
            skill_id: Set(entry.skill_id),
            phase: Set(phase),
            level: Set(entry.level),
            assessed_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        skill_assessment::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_levels_count_from_1_to_4_in_both_directions() {
        for direction in [SkillDirection::Offers, SkillDirection::Wants] {
            for level in 1..=4 {
                assert_eq!(profile_level_refusal(direction, level), None);
            }
            for level in [0, 5, -1, i32::MAX] {
                assert!(profile_level_refusal(direction, level).is_some(), "{level}");
            }
        }
    }

    #[test]
    fn wanting_from_scratch_is_told_to_name_the_level_to_reach() {
        let refusal = profile_level_refusal(SkillDirection::Wants, 0).unwrap_or_default();
        assert!(refusal.contains("level to reach"), "{refusal}");
    }
}
