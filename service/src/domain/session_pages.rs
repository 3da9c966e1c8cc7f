//! A page of each pairing's sessions, with each session's topics, in one
//! statement: the window function numbers every pairing's sessions, so a
//! list of pairings reads the page it shows and nothing more, however many
//! sessions each pairing has held.

use std::collections::HashMap;
use std::sync::Arc;

use entity::{mentoring_session, session_topic, skill};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait as _, Func, JoinType, Order, Query, SelectStatement, WindowStatement,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, Iterable as _};
use uuid::Uuid;

use super::joined::{Columns, ReadAt, id_at};
use super::pagination::{Cursor, Page, PageRequest};
use crate::error::AppResult;

/// One pairing's page of sessions.
#[derive(Clone, Debug)]
pub struct SessionsPage {
    /// The sessions, in id order (the order they were booked).
    pub page: Page<mentoring_session::Model>,
    /// Each session's topics, by session id, in skill id order; every
    /// session of the page has an entry, empty when it has no topic.
    /// Shared (`Arc`): a page is copied out of the request's loaders.
    pub topics: HashMap<Uuid, Vec<Arc<skill::Model>>>,
}

impl SessionsPage {
    /// The page of a pairing without sessions (past the cursor).
    pub fn empty(request: &PageRequest) -> Self {
        Self {
            page: Page::from_rows(Vec::new(), request, cursor_of),
            topics: HashMap::new(),
        }
    }
}

/// Where a session sits in its pairing's list: its id (ids grow with time).
pub fn cursor_of(session: &mentoring_session::Model) -> Cursor {
    Cursor {
        key: session.id.to_string(),
        id: session.id,
    }
}

const PAGE: &str = "page";
const LINK: &str = "link";
const TOPIC: &str = "topic";
const ROW_NUMBER: &str = "row_in_pairing";

/// Joins each session of the page (`PAGE`) to its topics' skills (`TOPIC`;
/// one row of nulls for a session without topics).
///
/// PostgreSQL reads them in a lateral subquery, fenced with an `OFFSET`
/// (bound to 0) so the planner cannot flatten it back into the joins: its generic plan for the plain joins hashes the
/// whole `session_topics` table to meet a page of a few dozen sessions,
/// where the lateral read probes the table's key once a session (0.17
/// instead of 0.23–0.30 ms of the backend's CPU on the demo company,
/// docs/benchmarks.md, session 13). SQLite has no `LATERAL` and its
/// planner probes the key of the plain joins anyway.
fn join_topics(query: &mut SelectStatement, backend: DbBackend) {
    let link_of_session = Expr::col((Alias::new(LINK), session_topic::Column::SessionId))
        .equals((Alias::new(PAGE), mentoring_session::Column::Id));
    if backend == DbBackend::Postgres {
        let mut topics = Query::select();
        topics
            .columns(skill::Column::iter().map(|column| (skill::Entity, column)))
            .from_as(session_topic::Entity, Alias::new(LINK))
            .inner_join(
                skill::Entity,
                Expr::col((skill::Entity, skill::Column::Id))
                    .equals((Alias::new(LINK), session_topic::Column::SkillId)),
            )
            .and_where(link_of_session)
            .offset(0);
        query.join_lateral(
            JoinType::LeftJoin,
            topics,
            Alias::new(TOPIC),
            Expr::cust("TRUE"),
        );
    } else {
        query
            .join_as(
                JoinType::LeftJoin,
                session_topic::Entity,
                Alias::new(LINK),
                link_of_session,
            )
            .join_as(
                JoinType::LeftJoin,
                skill::Entity,
                Alias::new(TOPIC),
                Expr::col((Alias::new(TOPIC), skill::Column::Id))
                    .equals((Alias::new(LINK), session_topic::Column::SkillId)),
            );
    }
}

/// The page `request` asks (the `first` sessions after its cursor) of each
/// of `pairing_ids`, with the topics of those sessions: one statement.
/// Every pairing asked has a page, empty when it has no session there.
pub async fn pages_of<C: ConnectionTrait>(
    db: &C,
    pairing_ids: &[Uuid],
    request: &PageRequest,
) -> AppResult<HashMap<Uuid, SessionsPage>> {
    let mut numbered = Query::select();
    numbered
        .columns(mentoring_session::Column::iter())
        .expr_window_as(
            Func::cust(Alias::new("ROW_NUMBER")),
            WindowStatement::partition_by(mentoring_session::Column::PairingId)
                .order_by(mentoring_session::Column::Id, Order::Asc)
                .to_owned(),
            Alias::new(ROW_NUMBER),
        )
        .from(mentoring_session::Entity)
        .and_where(mentoring_session::Column::PairingId.is_in(pairing_ids.iter().copied()));
    if let Some(after) = &request.after {
        numbered.and_where(mentoring_session::Column::Id.gt(after.id));
    }
    // One row more than the page: it tells that another page follows.
    let rows_wanted = i64::try_from(request.first)
        .unwrap_or(i64::MAX)
        .saturating_add(1);
    let mut query = Query::select();
    let mut columns = Columns::default();
    let session_at = columns.select::<mentoring_session::Entity>(&mut query, PAGE);
    let topic_at = columns.select::<skill::Entity>(&mut query, TOPIC);
    query.from_subquery(numbered, Alias::new(PAGE));
    join_topics(&mut query, db.get_database_backend());
    query
        .and_where(Expr::col((Alias::new(PAGE), Alias::new(ROW_NUMBER))).lte(rows_wanted))
        .order_by(
            (Alias::new(PAGE), mentoring_session::Column::PairingId),
            Order::Asc,
        )
        .order_by(
            (Alias::new(PAGE), mentoring_session::Column::Id),
            Order::Asc,
        )
        .order_by((Alias::new(TOPIC), skill::Column::Id), Order::Asc);
    let rows = db.query_all(&query).await?;
    let checked = columns.check(&rows)?;

    let mut sessions: HashMap<Uuid, Vec<mentoring_session::Model>> = HashMap::new();
    let mut topics: HashMap<Uuid, Vec<Arc<skill::Model>>> = HashMap::new();
    let mut last_read: Option<Uuid> = None;
    for row in &rows {
        // A session has a row per topic, next to each other (the order):
        // read it from its first row only.
        let Some(id) = id_at(row, session_at, checked)? else {
            continue; // a session's id is never null: no such row
        };
        if last_read != Some(id) {
            let session = mentoring_session::Model::read_at(row, session_at, checked)?;
            sessions
                .entry(session.pairing_id)
                .or_default()
                .push(session);
            last_read = Some(id);
        }
        let of_session = topics.entry(id).or_default();
        // A session without topics has one row of nulls (left join).
        if id_at(row, topic_at, checked)?.is_some() {
            of_session.push(Arc::new(skill::Model::read_at(row, topic_at, checked)?));
        }
    }
    Ok(pairing_ids
        .iter()
        .map(|pairing_id| {
            let rows = sessions.remove(pairing_id).unwrap_or_default();
            let page = Page::from_rows(rows, request, cursor_of);
            let topics = page
                .items
                .iter()
                .map(|(_, session)| {
                    let id = session.id;
                    (id, topics.remove(&id).unwrap_or_default())
                })
                .collect();
            (*pairing_id, SessionsPage { page, topics })
        })
        .collect())
}
