//! A reverse-mentoring programme: one wave of volunteers, pairings and sessions.

use crate::enums::{ProgrammeFormat, ProgrammeStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "programmes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub purpose: String,
    pub status: ProgrammeStatus,
    pub format: ProgrammeFormat,
    pub max_mentees_per_mentor: i32,
    pub session_cadence_days: i32,
    pub target_sessions: i32,
    pub requires_mentor_training: bool,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub sponsor_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
