//! An HRIS identity whose person was erased: only the SHA-256 of the
//! externalId, so a later push is refused without the id being kept.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "erased_identities")]
pub struct Model {
    /// Lower-case hex SHA-256 of the externalId.
    #[sea_orm(primary_key, auto_increment = false)]
    pub external_id_hash: String,
    pub erased_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
