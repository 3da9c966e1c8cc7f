//! The skill catalogue and employees' skill profiles.

use std::collections::HashMap;

use chrono::Utc;
use entity::{skill, skill_profile};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::error::AppResult;

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
