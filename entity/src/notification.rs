//! One message to one recipient over one channel: the outbox row written in
//! the same transaction as the change it tells of (or by the scheduler for
//! time-based events), then delivered at least once by the notifier.

use crate::enums::{DeliveryState, NotificationChannel, NotificationKind};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// One row per event and recipient: a second attempt to raise the same
    /// event for the same recipient (another replica, another pass) is a no-op.
    #[sea_orm(unique)]
    pub dedup_key: String,
    pub kind: NotificationKind,
    pub channel: NotificationChannel,
    /// The employee told; None for the programme team's mailbox and for webhooks.
    pub recipient_id: Option<Uuid>,
    pub programme_id: Option<Uuid>,
    pub pairing_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// The facts of the event as they were when it was raised (times,
    /// calendar sequence, counts): never a note or a feedback text.
    pub payload: Json,
    pub state: DeliveryState,
    pub attempts: i32,
    /// When the next attempt is due; while an attempt runs, the end of its lease.
    pub next_attempt_at: DateTimeUtc,
    pub subject: Option<String>,
    /// Why the last attempt failed (no address, no message body).
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
