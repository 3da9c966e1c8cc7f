//! A mentor and their mentees within a programme.

use crate::enums::PairingStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pairings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub programme_id: Uuid,
    pub mentor_id: Uuid,
    pub status: PairingStatus,
    /// Matcher score in [0, 1]; None for pairings made by hand.
    pub score: Option<f64>,
    /// The matcher's reasons, a JSON array of {kind, detail, weight}.
    pub reasons: Json,
    pub end_reason: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    /// When a PAUSED pairing was paused (None otherwise).
    pub paused_at: Option<DateTimeUtc>,
    /// Why, as the person pausing said (None otherwise).
    pub pause_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
