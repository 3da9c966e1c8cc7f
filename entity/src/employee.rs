//! A person of the company, as the HRIS last described them.

use crate::enums::{EmployeeStatus, Generation};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "employees")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub external_id: String,
    /// Always stored in lower case (a CHECK constraint enforces it), so the
    /// unique index makes email unique case-insensitively.
    #[sea_orm(unique)]
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: String,
    pub job_title: Option<String>,
    pub department_id: Option<Uuid>,
    pub manager_id: Option<Uuid>,
    pub generation: Generation,
    pub seniority_level: Option<i32>,
    pub timezone: String,
    pub status: EmployeeStatus,
    /// Bumped by every write that changes the employee's free time, so cached
    /// availability keyed on it can never be served stale.
    pub availability_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the person left the company (retention counts from it).
    pub terminated_at: Option<DateTimeUtc>,
    /// When the person's data was erased (GDPR art. 17 or retention): the
    /// row stays, nameless, so the programme's figures keep adding up.
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
