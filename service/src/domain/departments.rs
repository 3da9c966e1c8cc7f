//! Reading departments (organisational units are not personal data: every
//! caller who can see an employee can see their department).

use std::collections::HashMap;

use entity::department;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::AppResult;

/// Departments by id (for DataLoaders).
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, department::Model>> {
    let rows = department::Entity::find()
        .filter(department::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|d| (d.id, d)).collect())
}
