//! An administrative action, kept for auditors: who did what to which record.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The token subject (employee id or service account) that acted.
    pub actor: String,
    /// The employee who acted; None for service accounts.
    pub actor_employee_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    /// The HTTP request that made the change (X-Request-Id).
    pub request_id: String,
    pub details: Json,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
