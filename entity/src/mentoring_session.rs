//! A meeting of a pairing; private notes are for its participants only.

use crate::enums::{SessionMode, SessionStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mentoring_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub pairing_id: Uuid,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub mode: SessionMode,
    pub status: SessionStatus,
    pub agenda: Option<String>,
    pub private_notes: Option<String>,
    pub cancel_reason: Option<String>,
    /// iCalendar SEQUENCE: 0 when booked, one more at each reschedule, so
    /// calendar clients update the same entry.
    pub sequence: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
