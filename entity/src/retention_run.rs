//! One retention pass and what it erased, for the record of processing.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The instant the limits were measured from (`--now`).
    pub as_of: DateTimeUtc,
    /// When the pass ran (wall clock).
    pub ran_at: DateTimeUtc,
    /// Sessions whose private notes were erased.
    pub notes_erased: i32,
    /// Feedback entries whose comment was erased.
    pub comments_erased: i32,
    /// Leavers whose personal data was erased.
    pub people_erased: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
