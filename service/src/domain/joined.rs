//! Several entities read from one joined statement, for the joins sea-orm's
//! builders cannot say (one table joined twice, a page per parent): each
//! entity's columns are selected one after the other, and each model is
//! read back from the position its columns start at.
//!
//! Reading by position, not by a `{prefix}{column}` alias, is what makes
//! the joined reads cheap: sea-orm's own `from_query_result` formats each
//! prefixed name and looks it up twice in the row's column map, which cost
//! more than anything else Tandem did for the intranet's nested
//! `myPairings` (docs/benchmarks.md, session 14).

use std::ops::RangeFrom;

use chrono::NaiveDate;
use entity::enums::{
    EmployeeStatus, Generation, GoalStatus, PairingStatus, ProgrammeFormat, ProgrammeStatus,
    SessionMode, SessionStatus,
};
use entity::{employee, goal, mentoring_session, pairing, programme, skill};
use sea_orm::entity::prelude::{DateTimeUtc, Json};
use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::sqlx::Row as _;
use sea_orm::{ActiveEnum, ColumnTrait, DbErr, EntityTrait, Iterable, QueryResult};
use uuid::Uuid;

/// The columns a statement selects, counted so that each entity's first
/// column is known. Every column of the statement must be selected through
/// it: one selected another way would shift every position, which
/// [`Columns::check`] refuses.
#[derive(Debug, Default)]
pub struct Columns {
    selected: usize,
}

impl Columns {
    /// Selects every column of `E`, read from `table` (its name or an
    /// alias), in the entity's column order; answers the position of its
    /// first column, for [`ReadAt::read_at`].
    pub fn select<E: EntityTrait>(&mut self, query: &mut SelectStatement, table: &str) -> usize {
        let first = self.selected;
        for column in E::Column::iter() {
            query.expr(column.select_as(Expr::col((Alias::new(table), column))));
            self.selected = self.selected.saturating_add(1);
        }
        first
    }

    /// Refuses a row that does not hold exactly the columns selected
    /// through this `Columns` (checked on a statement's first row: every
    /// row of a statement has the same columns).
    pub fn check(&self, row: &QueryResult) -> Result<(), DbErr> {
        let held = if let Some(row) = row.try_as_pg_row() {
            row.len()
        } else if let Some(row) = row.try_as_sqlite_row() {
            row.len()
        } else {
            return Ok(());
        };
        if held == self.selected {
            Ok(())
        } else {
            Err(DbErr::Custom(format!(
                "a joined read selected {} columns but its rows hold {held}",
                self.selected
            )))
        }
    }
}

/// A model read from a row by the position of its first column: its
/// columns in the entity's column order, as [`Columns::select`] selects them.
pub trait ReadAt: Sized {
    /// The model's fields in the order they are read; a unit test checks
    /// it is the entity's column order.
    const FIELDS: &'static [&'static str];

    /// Reads the model whose first column is at `first`, as `decoding` says.
    fn read_at(row: &QueryResult, first: usize, decoding: Decoding) -> Result<Self, DbErr>;
}

/// How much a row's values are checked as they are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoding {
    /// Each value's column type is checked against the field's type: the
    /// first row of a statement.
    Checked,
    /// The statement's first row was decoded `Checked`, and every row of
    /// a statement has the same column types: PostgreSQL values are
    /// decoded without checking the types again (sea-orm checked each
    /// value's type twice, and formatted an error for every null). SQLite
    /// always checks.
    Trusted,
}

impl Decoding {
    /// Checked for a statement's first row, trusted for the rest.
    pub fn of_row(index: usize) -> Self {
        if index == 0 {
            Self::Checked
        } else {
            Self::Trusted
        }
    }
}

/// A field's value, read from a row by position.
trait ColumnValue: Sized {
    fn read(row: &QueryResult, at: usize, decoding: Decoding) -> Result<Self, DbErr>;
}

/// The types sqlx decodes itself: read straight from the PostgreSQL row
/// (a null in a field that is no `Option` is an error either way), through
/// sea-orm on SQLite.
macro_rules! decoded_by_sqlx {
    ($($value:ty),+ $(,)?) => {
        $(impl ColumnValue for $value {
            fn read(row: &QueryResult, at: usize, decoding: Decoding) -> Result<Self, DbErr> {
                match (row.try_as_pg_row(), decoding) {
                    (Some(row), Decoding::Checked) => row.try_get(at).map_err(undecodable),
                    (Some(row), Decoding::Trusted) => {
                        row.try_get_unchecked(at).map_err(undecodable)
                    }
                    (None, _) => row.try_get_by_index(at),
                }
            }
        })+
    };
}

decoded_by_sqlx!(
    Uuid,
    Option<Uuid>,
    String,
    Option<String>,
    DateTimeUtc,
    Option<DateTimeUtc>,
    Option<NaiveDate>,
    i32,
    Option<i32>,
    i64,
    Option<f64>,
    bool,
);

/// The string-backed enums: their stored value, then the variant.
macro_rules! stored_as_strings {
    ($($value:ty),+ $(,)?) => {
        $(impl ColumnValue for $value {
            fn read(row: &QueryResult, at: usize, decoding: Decoding) -> Result<Self, DbErr> {
                let stored = String::read(row, at, decoding)?;
                <$value as ActiveEnum>::try_from_value(&stored)
            }
        })+
    };
}

stored_as_strings!(
    PairingStatus,
    ProgrammeStatus,
    ProgrammeFormat,
    Generation,
    EmployeeStatus,
    SessionMode,
    SessionStatus,
    GoalStatus,
);

/// JSON (a pairing's match reasons) goes through sea-orm on both backends.
impl ColumnValue for Json {
    fn read(row: &QueryResult, at: usize, _: Decoding) -> Result<Self, DbErr> {
        row.try_get_by_index(at)
    }
}

fn undecodable(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Type(format!("a joined read could not decode a column: {err}"))
}

/// Reads the value at the next position of `columns`.
fn next<T: ColumnValue>(
    row: &QueryResult,
    columns: &mut RangeFrom<usize>,
    decoding: Decoding,
) -> Result<T, DbErr> {
    let at = columns.start;
    columns.start = at.saturating_add(1);
    T::read(row, at, decoding)
}

/// Implements [`ReadAt`] for a model, its fields listed in column order.
/// A field added to the model and not listed here does not compile; one
/// listed out of order fails `fields_follow_the_column_order`.
macro_rules! read_at {
    ($model:ty { $($field:ident),+ $(,)? }) => {
        impl ReadAt for $model {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn read_at(row: &QueryResult, first: usize, decoding: Decoding) -> Result<Self, DbErr> {
                let mut columns = first..;
                // Struct fields are evaluated in the order written.
                Ok(Self { $($field: next(row, &mut columns, decoding)?),+ })
            }
        }
    };
}

read_at!(pairing::Model {
    id,
    programme_id,
    mentor_id,
    status,
    score,
    reasons,
    end_reason,
    decided_at,
    ended_at,
    paused_at,
    pause_reason,
    created_at,
    updated_at,
});

read_at!(programme::Model {
    id,
    name,
    purpose,
    status,
    format,
    max_mentees_per_mentor,
    session_cadence_days,
    target_sessions,
    requires_mentor_training,
    starts_on,
    ends_on,
    sponsor_id,
    created_at,
    updated_at,
});

read_at!(employee::Model {
    id,
    external_id,
    email,
    given_name,
    family_name,
    display_name,
    job_title,
    department_id,
    manager_id,
    generation,
    seniority_level,
    timezone,
    status,
    availability_version,
    created_at,
    updated_at,
    terminated_at,
    erased_at,
});

read_at!(mentoring_session::Model {
    id,
    pairing_id,
    starts_at,
    ends_at,
    mode,
    status,
    agenda,
    private_notes,
    cancel_reason,
    sequence,
    created_by,
    created_at,
    updated_at,
});

read_at!(skill::Model {
    id,
    slug,
    name,
    category,
    created_at,
});

read_at!(goal::Model {
    id,
    pairing_id,
    skill_id,
    description,
    status,
    due_on,
    created_at,
    updated_at,
});

/// Whether the row holds no `M` (a left join found none): its first
/// column, the id (never null in a row that exists), is null.
pub fn is_absent<M: ReadAt>(row: &QueryResult, first: usize) -> Result<bool, DbErr> {
    let id: Option<Uuid> = row.try_get_by_index(first)?;
    Ok(id.is_none())
}

#[cfg(test)]
mod tests {
    use sea_orm::IdenStatic as _;

    use super::*;

    fn column_names<E: EntityTrait>() -> Vec<&'static str> {
        E::Column::iter().map(|column| column.as_str()).collect()
    }

    #[test]
    fn every_model_starts_with_its_id() {
        for fields in [
            pairing::Model::FIELDS,
            programme::Model::FIELDS,
            employee::Model::FIELDS,
            mentoring_session::Model::FIELDS,
            skill::Model::FIELDS,
            goal::Model::FIELDS,
        ] {
            assert_eq!(fields.first(), Some(&"id"), "{fields:?}");
        }
    }

    #[test]
    fn fields_follow_the_column_order() {
        assert_eq!(pairing::Model::FIELDS, column_names::<pairing::Entity>());
        assert_eq!(
            programme::Model::FIELDS,
            column_names::<programme::Entity>()
        );
        assert_eq!(employee::Model::FIELDS, column_names::<employee::Entity>());
        assert_eq!(
            mentoring_session::Model::FIELDS,
            column_names::<mentoring_session::Entity>()
        );
        assert_eq!(skill::Model::FIELDS, column_names::<skill::Entity>());
        assert_eq!(goal::Model::FIELDS, column_names::<goal::Entity>());
    }

    #[test]
    fn each_entity_starts_where_the_previous_one_ended() {
        let mut query = SelectStatement::new();
        let mut columns = Columns::default();
        let pairing_at = columns.select::<pairing::Entity>(&mut query, "pairings");
        let mentor_at = columns.select::<employee::Entity>(&mut query, "mentor");
        let mentee_at = columns.select::<employee::Entity>(&mut query, "mentee");
        assert_eq!(pairing_at, 0);
        assert_eq!(mentor_at, pairing::Model::FIELDS.len());
        assert_eq!(mentee_at, mentor_at + employee::Model::FIELDS.len());
    }
}
