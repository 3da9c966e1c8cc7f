//! One mentee of a pairing (a GROUP pairing has several).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pairing_mentees")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pairing_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mentee_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
