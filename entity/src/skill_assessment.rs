//! A self-assessed level on one skill, at the start (BASELINE) or end (EXIT) of a programme.

use crate::enums::AssessmentPhase;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "skill_assessments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub programme_id: Uuid,
    pub employee_id: Uuid,
    pub skill_id: Uuid,
    pub phase: AssessmentPhase,
    pub level: i32,
    pub assessed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
