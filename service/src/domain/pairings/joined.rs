//! Pairings read together with what a list of them shows — their
//! programme, mentor and mentees — in one statement. The API asks for the
//! relations its selection needs (look-ahead), so the intranet's "my
//! pairings" screen costs one read instead of one per relation and round.

use entity::{employee, pairing, pairing_mentee, programme};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, JoinType, Order, Query};
use sea_orm::{Condition, ConnectionTrait, FromQueryResult, IdenStatic as _};
use uuid::Uuid;

use crate::domain::joined::select_prefixed;
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
    select_prefixed::<pairing::Entity>(&mut query, "pairings", "");
    query.from(pairing::Entity);
    if relations.programme {
        select_prefixed::<programme::Entity>(&mut query, "programmes", "g_");
        query.join(
            JoinType::InnerJoin,
            programme::Entity,
            Expr::col((programme::Entity, programme::Column::Id))
                .equals((pairing::Entity, pairing::Column::ProgrammeId)),
        );
    }
    if relations.mentor {
        select_prefixed::<employee::Entity>(&mut query, MENTOR, "m_");
        query.join_as(
            JoinType::InnerJoin,
            employee::Entity,
            Alias::new(MENTOR),
            Expr::col((Alias::new(MENTOR), employee::Column::Id))
                .equals((pairing::Entity, pairing::Column::MentorId)),
        );
    }
    if relations.mentees {
        select_prefixed::<employee::Entity>(&mut query, MENTEE, "e_");
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
    let mut read: Vec<WithRelations> = Vec::new();
    for row in rows {
        let id: Uuid = row.try_get("", pairing::Column::Id.as_str())?;
        if read.last().is_none_or(|last| last.pairing.id != id) {
            read.push(WithRelations {
                pairing: pairing::Model::from_query_result(&row, "")?,
                programme: relations
                    .programme
                    .then(|| programme::Model::from_query_result(&row, "g_"))
                    .transpose()?,
                mentor: relations
                    .mentor
                    .then(|| employee::Model::from_query_result(&row, "m_"))
                    .transpose()?,
                mentees: relations.mentees.then(Vec::new),
            });
        }
        // A pairing without mentees (left join) has one row of nulls.
        let mentee_id: Option<Uuid> = if relations.mentees {
            row.try_get("e_", employee::Column::Id.as_str())?
        } else {
            None
        };
        if mentee_id.is_some()
            && let Some(current) = read.last_mut()
        {
            let mentee = employee::Model::from_query_result(&row, "e_")?;
            current.mentees.get_or_insert_with(Vec::new).push(mentee);
        }
    }
    Ok(read)
}
