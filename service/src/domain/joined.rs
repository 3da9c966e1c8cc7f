//! Several entities read from one joined statement, for the joins sea-orm's
//! builders cannot say (one table joined twice, a page per parent): each
//! entity's columns are selected one after the other, and each model is
//! read back from the position its columns start at.
//!
//! Reading by position, not by a `{prefix}{column}` alias, is what makes
//! the joined reads cheap: sea-orm's own `from_query_result` formats each
//! prefixed name, looks it up in the row's column map and checks the
//! value's type, which cost more than anything else Tandem did for the
//! intranet's nested `myPairings` (docs/benchmarks.md, session 14). Here
//! the types are checked once a statement ([`Columns::check`]).

use std::ops::RangeFrom;

use chrono::NaiveDate;
use entity::enums::{
    EmployeeStatus, Generation, GoalStatus, PairingStatus, ProgrammeFormat, ProgrammeStatus,
    SessionMode, SessionStatus,
};
use entity::{employee, goal, mentoring_session, pairing, programme, skill};
use sea_orm::entity::prelude::{DateTimeUtc, Json};
use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::sqlx::postgres::{PgRow, PgTypeInfo, Postgres};
use sea_orm::sqlx::{Column as _, Row as _, Type};
use sea_orm::{ActiveEnum, ColumnTrait, DbErr, EntityTrait, Iterable, QueryResult};
use uuid::Uuid;

/// The columns a statement selects, counted so that each entity's first
/// column is known. Every column of the statement must be selected through
/// it: one selected another way would shift every position, which
/// [`Columns::check`] refuses.
#[derive(Debug, Default)]
pub struct Columns {
    selected: usize,
    /// Each selected entity's first column, with the check of its columns'
    /// types.
    entities: Vec<(usize, TypesMatch)>,
}

/// [`ReadAt::types_match`] of one model.
type TypesMatch = fn(&PgRow, usize) -> bool;

impl Columns {
    /// Selects every column of `E`, read from `table` (its name or an
    /// alias), in the entity's column order; answers the position of its
    /// first column, for [`ReadAt::read_at`].
    pub fn select<E>(&mut self, query: &mut SelectStatement, table: &str) -> usize
    where
        E: EntityTrait,
        E::Model: ReadAt,
    {
        let first = self.selected;
        for column in E::Column::iter() {
            query.expr(column.select_as(Expr::col((Alias::new(table), column))));
            self.selected = self.selected.saturating_add(1);
        }
        self.entities
            .push((first, <E::Model as ReadAt>::types_match));
        first
    }

    /// Checks a statement's rows before any is read: they hold exactly the
    /// columns selected through this `Columns`, and on PostgreSQL each
    /// column has a type its model's field decodes (from the statement's
    /// column metadata, so a null in a row hides nothing). Every row of a
    /// statement has the same columns, so the first row is enough; what it
    /// answers lets [`ReadAt::read_at`] decode without checking each value
    /// again.
    pub fn check(&self, rows: &[QueryResult]) -> Result<Checked, DbErr> {
        let Some(row) = rows.first() else {
            return Ok(Checked(()));
        };
        let held = if let Some(row) = row.try_as_pg_row() {
            if let Some((first, _)) = self
                .entities
                .iter()
                .find(|(first, types_match)| !types_match(row, *first))
            {
                return Err(DbErr::Type(format!(
                    "a joined read's columns from {first} on do not have its model's types"
                )));
            }
            row.len()
        } else if let Some(row) = row.try_as_sqlite_row() {
            row.len()
        } else {
            return Err(DbErr::Custom(
                "a joined read runs on PostgreSQL or SQLite only".to_owned(),
            ));
        };
        if held == self.selected {
            Ok(Checked(()))
        } else {
            Err(DbErr::Custom(format!(
                "a joined read selected {} columns but its rows hold {held}",
                self.selected
            )))
        }
    }
}

/// Proof that a statement's rows passed [`Columns::check`]: only this
/// module makes one, and reading a model needs one.
#[derive(Clone, Copy, Debug)]
pub struct Checked(());

/// A model read from a row by the position of its first column: its
/// columns in the entity's column order, as [`Columns::select`] selects them.
pub trait ReadAt: Sized {
    /// The model's fields in the order they are read; a unit test checks
    /// it is the entity's column order.
    const FIELDS: &'static [&'static str];

    /// Whether the PostgreSQL columns from `first` on have types the
    /// model's fields decode.
    fn types_match(row: &PgRow, first: usize) -> bool;

    /// Reads the model whose first column is at `first`, from a row of a
    /// statement whose columns were checked.
    fn read_at(row: &QueryResult, first: usize, checked: Checked) -> Result<Self, DbErr>;
}

/// A field's value, read from a row by position.
trait ColumnValue: Sized {
    /// Whether a PostgreSQL column of type `ty` decodes into this type.
    fn compatible(ty: &PgTypeInfo) -> bool;

    /// Reads the value at `at`. On PostgreSQL the type is not checked
    /// again ([`Columns::check`] did, once a statement: sea-orm checked it
    /// for every value and formatted an error for every null, a third of
    /// the decoding's cost); SQLite goes through sea-orm.
    fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr>;
}

/// The types sqlx decodes itself (a null in a field that is no `Option`
/// is an error).
macro_rules! decoded_by_sqlx {
    ($($value:ty),+ $(,)?) => {
        $(impl ColumnValue for $value {
            fn compatible(ty: &PgTypeInfo) -> bool {
                <$value as Type<Postgres>>::compatible(ty)
            }

            fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                match row.try_as_pg_row() {
                    Some(row) => row.try_get_unchecked(at).map_err(undecodable),
                    None => row.try_get_by_index(at),
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
            fn compatible(ty: &PgTypeInfo) -> bool {
                <String as ColumnValue>::compatible(ty)
            }

            fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                let stored = String::read(row, at)?;
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

/// JSON (a pairing's match reasons) is read through sea-orm on both
/// backends.
impl ColumnValue for Json {
    fn compatible(ty: &PgTypeInfo) -> bool {
        <Json as Type<Postgres>>::compatible(ty)
    }

    fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
        row.try_get_by_index(at)
    }
}

fn undecodable(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Type(format!("a joined read could not decode a column: {err}"))
}

/// The position `columns` is at; moves it to the next column.
fn advance(columns: &mut RangeFrom<usize>) -> usize {
    let at = columns.start;
    columns.start = at.saturating_add(1);
    at
}

/// Whether the next column of `row` decodes into the field `_field` reads
/// (the field names its type).
fn column_matches<M, T: ColumnValue>(
    row: &PgRow,
    columns: &mut RangeFrom<usize>,
    _field: fn(&M) -> &T,
) -> bool {
    let at = advance(columns);
    row.columns()
        .get(at)
        .is_some_and(|column| T::compatible(column.type_info()))
}

/// Implements [`ReadAt`] for a model, its fields listed in column order.
/// A field added to the model and not listed here does not compile; one
/// listed out of order fails `fields_follow_the_column_order`.
macro_rules! read_at {
    ($model:ty { $($field:ident),+ $(,)? }) => {
        impl ReadAt for $model {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn types_match(row: &PgRow, first: usize) -> bool {
                let mut columns = first..;
                true $(&& column_matches(row, &mut columns, |model: &$model| &model.$field))+
            }

            fn read_at(row: &QueryResult, first: usize, _: Checked) -> Result<Self, DbErr> {
                let mut columns = first..;
                // Struct fields are evaluated in the order written.
                Ok(Self { $($field: ColumnValue::read(row, advance(&mut columns))?),+ })
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

/// The id in the column at `first`, the first of a model (every model
/// starts with its id, never null in a row that exists): None when a left
/// join found no such row.
pub fn id_at(row: &QueryResult, first: usize, _: Checked) -> Result<Option<Uuid>, DbErr> {
    Option::<Uuid>::read(row, first)
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
