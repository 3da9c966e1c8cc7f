//! Goals a pairing sets itself, by its participants.

use chrono::{NaiveDate, Utc};
use entity::enums::GoalStatus;
use entity::{goal, skill};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use uuid::Uuid;

use super::pairings;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// A participant adds a goal to their pairing.
pub async fn add(
    db: &DatabaseConnection,
    caller: &Caller,
    pairing_id: Uuid,
    description: &str,
    skill_id: Option<Uuid>,
    due_on: Option<NaiveDate>,
) -> AppResult<goal::Model> {
    let description = description.trim();
    if description.is_empty() || description.chars().count() > 500 {
        return Err(AppError::bad_input(
            "description",
            "a goal is described in 1 to 500 characters",
        ));
    }
    let pairing = pairings::get_as_participant(db, caller, pairing_id).await?;
    if let Some(skill_id) = skill_id
        && skill::Entity::find_by_id(skill_id).one(db).await?.is_none()
    {
        return Err(AppError::bad_input(
            "skillId",
            "no such skill in the catalogue",
        ));
    }
    let now = Utc::now();
    let created = goal::ActiveModel {
        id: Set(super::new_id()),
        pairing_id: Set(pairing.id),
        skill_id: Set(skill_id),
        description: Set(description.to_owned()),
        status: Set(GoalStatus::Open),
        due_on: Set(due_on),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(created)
}

/// A participant marks a goal achieved, dropped or open again.
pub async fn set_status(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
    status: GoalStatus,
) -> AppResult<goal::Model> {
    let found = goal::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("goal"))?;
    pairings::get_as_participant(db, caller, found.pairing_id)
        .await
        .map_err(|_| AppError::NotFound("goal"))?;
    let mut change: goal::ActiveModel = found.into();
    change.status = Set(status);
    change.updated_at = Set(Utc::now());
    Ok(change.update(db).await?)
}
