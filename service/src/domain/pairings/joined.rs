//! Pairings read together with what a list of them shows — their
//! programme, mentor and mentees — in one statement. The API asks for the
//! relations its selection needs (look-ahead), so the intranet's "my
//! pairings" screen costs one read instead of one per relation and round.

use entity::{employee, pairing, pairing_mentee, programme};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, JoinType, Order, Query};
use sea_orm::{Condition, ConnectionTrait};

use crate::domain::joined::{Columns, ReadAt, id_at};
use crate::error::AppResult;

/// The relations to read with the pairings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relations {
    /// The pairing's programme.
    pub programme: bool,
    /// The mentor's employee row.
    pub mentor: bool,
    /// The mentees' ids and employee rows.
    pub mentees: bool,
}

/// A pairing with the relations that were asked for (None: not asked).
#[derive(Clone, Debug)]
pub struct WithRelations {
    /// The pairing.
    pub pairing: pairing::Model,
    /// Its programme.
    pub programme: Option<programme::Model>,
    /// Its mentor.
    pub mentor: Option<employee::Model>,
    /// Its mentees, in id order (as [`super::mentees_of`] lists them).
    pub mentees: Option<Vec<employee::Model>>,
}

const MENTOR: &str = "mentor";
const MENTEE: &str = "mentee";
const LINK: &str = "pm";

/// The pairings `condition` selects (a condition on the `pairings` table),
/// newest first, each with `relations`: one statement. It checks no
/// access: only this module's siblings call it, with a condition that
/// already says what the caller may see ([`super::members::mine_with`]).
pub(super) async fn read<C: ConnectionTrait>(
    db: &C,
    condition: Condition,
    relations: Relations,
) -> AppResult<Vec<WithRelations>> {
    let mut query = Query::select();
    let mut columns = Columns::default();
    let pairing_at = columns.select::<pairing::Entity>(&mut query, "pairings");
    query.from(pairing::Entity);
    let mut programme_at = None;
    if relations.programme {
        programme_at = Some(columns.select::<programme::Entity>(&mut query, "programmes"));
        query.join(
            JoinType::InnerJoin,
            programme::Entity,
            Expr::col((programme::Entity, programme::Column::Id))
                .equals((pairing::Entity, pairing::Column::ProgrammeId)),
        );
    }
    let mut mentor_at = None;
    if relations.mentor {
        mentor_at = Some(columns.select::<employee::Entity>(&mut query, MENTOR));
        query.join_as(
            JoinType::InnerJoin,
            employee::Entity,
            Alias::new(MENTOR),
            Expr::col((Alias::new(MENTOR), employee::Column::Id))
                .equals((pairing::Entity, pairing::Column::MentorId)),
        );
    }
    let mut mentee_at = None;
    if relations.mentees {
        mentee_at = Some(columns.select::<employee::Entity>(&mut query, MENTEE));
        query
            .join_as(
                JoinType::LeftJoin,
                pairing_mentee::Entity,
                Alias::new(LINK),
                Expr::col((Alias::new(LINK), pairing_mentee::Column::PairingId))
                    .equals((pairing::Entity, pairing::Column::Id)),
            )
            .join_as(
                JoinType::LeftJoin,
                employee::Entity,
                Alias::new(MENTEE),
                Expr::col((Alias::new(MENTEE), employee::Column::Id))
                    .equals((Alias::new(LINK), pairing_mentee::Column::MenteeId)),
            );
    }
    query
        .cond_where(condition)
        .order_by((pairing::Entity, pairing::Column::Id), Order::Desc);
    if relations.mentees {
        query.order_by(
            (Alias::new(LINK), pairing_mentee::Column::MenteeId),
            Order::Asc,
        );
    }
    let rows = db.query_all(&query).await?;
    let checked = columns.check(&rows)?;
    let mut read: Vec<WithRelations> = Vec::new();
    for row in &rows {
        // A pairing has a row per mentee: read it from its first row only.
        let id = id_at(row, pairing_at, checked)?;
        if read.last().map(|last| last.pairing.id) != id {
            read.push(WithRelations {
                pairing: pairing::Model::read_at(row, pairing_at, checked)?,
                programme: programme_at
                    .map(|first| programme::Model::read_at(row, first, checked))
                    .transpose()?,
                mentor: mentor_at
                    .map(|first| employee::Model::read_at(row, first, checked))
                    .transpose()?,
                mentees: mentee_at.map(|_| Vec::new()),
            });
        }
        // A pairing without mentees (left join) has one row of nulls.
        if let Some(first) = mentee_at
            && id_at(row, first, checked)?.is_some()
            && let Some(current) = read.last_mut()
        {
            let mentee = employee::Model::read_at(row, first, checked)?;
            current.mentees.get_or_insert_with(Vec::new).push(mentee);
        }
    }
    Ok(read)
}
