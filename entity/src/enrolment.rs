//! A volunteer's enrolment in a programme as mentor or mentee.

use crate::enums::{EnrolmentStatus, ParticipantRole};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "enrolments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub programme_id: Uuid,
    pub employee_id: Uuid,
    pub role: ParticipantRole,
    pub status: EnrolmentStatus,
    pub consented_at: DateTimeUtc,
    pub motivation: Option<String>,
    pub training_completed_at: Option<DateTimeUtc>,
    pub supervisor_id: Option<Uuid>,
    pub capacity: i32,
    pub decided_at: Option<DateTimeUtc>,
    pub decision_reason: Option<String>,
    pub withdrawn_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
