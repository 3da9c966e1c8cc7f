//! One call of the HRIS sync, with its counts.

use crate::enums::{HrisSyncMode, HrisSyncState};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "hris_sync_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub mode: HrisSyncMode,
    pub source: String,
    pub dry_run: bool,
    pub state: HrisSyncState,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub deactivated: i32,
    pub failed: i32,
    pub started_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
