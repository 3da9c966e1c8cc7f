//! An employee (the principal) lets another (the delegate) manage their
//! mentoring agenda; live while `revoked_at` is None.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "delegations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The executive whose agenda is managed.
    pub principal_id: Uuid,
    /// The assistant who manages it.
    pub delegate_id: Uuid,
    /// The admin who granted it on the principal's behalf (None: the principal did).
    pub granted_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
