//! The joined reads' guard (`domain::joined::Columns::check`): the rows of
//! a statement are read by position, so a statement whose columns are not
//! exactly the ones selected through `Columns` — or, on PostgreSQL, whose
//! column types drifted from the entity's — is refused before any row is
//! read, never misread.

use entity::employee;
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, IdenStatic as _, Iterable};
use tandem::domain::joined::{Columns, ReadAt};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

/// The employees' columns, as a subquery named `drifted` in which
/// `availability_version` (a bigint) becomes `replaced_by`.
fn employees_with(replaced_by: &'static str) -> SelectStatement {
    let mut drifted = Query::select();
    for column in employee::Column::iter() {
        if matches!(column, employee::Column::AvailabilityVersion) {
            drifted.expr_as(Expr::cust(replaced_by), Alias::new(column.as_str()));
        } else {
            drifted.column(column);
        }
    }
    drifted.from(employee::Entity);
    drifted
}

async fn rows_come_back_when_the_columns_are_the_ones_selected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = insert_employee(&app.db, Person::new("Ada Reader", 3)).await;
    let mut query = Query::select();
    let mut columns = Columns::default();
    let employee_at = columns.select::<employee::Entity>(&mut query, "employees");
    query.from(employee::Entity);

    let rows = app.db.query_all(&query).await.unwrap();
    let checked = columns.check(&rows).expect("the columns selected");
    let read = employee::Model::read_at(&rows[0], employee_at, checked).unwrap();
    let stored = employee::Entity::find_by_id(id).one(&app.db).await.unwrap();
    assert_eq!(Some(read), stored);
}

async fn a_column_selected_another_way_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Ada Reader", 3)).await;
    let mut query = Query::select();
    let mut columns = Columns::default();
    // A column ahead of the entity's would shift every position.
    query.expr(Expr::val(1));
    columns.select::<employee::Entity>(&mut query, "employees");
    query.from(employee::Entity);

    let rows = app.db.query_all(&query).await.unwrap();
    assert!(columns.check(&rows).is_err());
}

async fn a_column_whose_type_drifted_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Ada Reader", 3)).await;
    let mut query = Query::select();
    let mut columns = Columns::default();
    columns.select::<employee::Entity>(&mut query, "drifted");
    // Same count, same names; a real-typed availability_version.
    query.from_subquery(employees_with("1.5"), Alias::new("drifted"));

    let rows = app.db.query_all(&query).await.unwrap();
    let outcome = columns.check(&rows);
    if app.db.get_database_backend() == DbBackend::Postgres {
        assert!(outcome.is_err(), "numeric read as a bigint");
    } else {
        // SQLite has no column types: sea-orm checks each value instead.
        assert!(outcome.is_ok());
    }
}

both!(
    rows_come_back_when_the_columns_are_the_ones_selected,
    a_column_selected_another_way_is_refused,
    a_column_whose_type_drifted_is_refused,
);
