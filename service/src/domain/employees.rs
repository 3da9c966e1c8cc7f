//! Reading employees within the caller's scope, and the version of their
//! availability that every change of their free time bumps.

use std::collections::HashMap;

use chrono::Utc;
use entity::employee;
use sea_orm::sea_query::{Expr, ExprTrait as _, Func, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use super::access::EmployeeScope;
use super::pagination::{Cursor, Page, PageRequest, after_condition};
use crate::error::{AppError, AppResult};

/// Employees who can still be found. An erased person's nameless row only
/// keeps the programmes' figures whole and names nobody: sign-in, search,
/// the HRIS push, SCIM and federation all start from here.
pub fn findable() -> Select<employee::Entity> {
    employee::Entity::find().filter(employee::Column::ErasedAt.is_null())
}

/// One employee, if it exists and is in scope; NOT_FOUND otherwise.
pub async fn get(
    db: &DatabaseConnection,
    scope: &EmployeeScope,
    id: Uuid,
) -> AppResult<employee::Model> {
    if !scope.contains(id) {
        return Err(AppError::NotFound("employee"));
    }
    findable()
        .filter(employee::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("employee"))
}

/// One employee by their HRIS id, if the caller may see them (NOT_FOUND
/// otherwise, as for [`get`]).
pub async fn get_by_external_id(
    db: &DatabaseConnection,
    scope: &EmployeeScope,
    external_id: &str,
) -> AppResult<employee::Model> {
    findable()
        .filter(employee::Column::ExternalId.eq(external_id))
        .one(db)
        .await?
        .filter(|found| scope.contains(found.id))
        .ok_or(AppError::NotFound("employee"))
}

/// Employees by id (for DataLoaders); ids that do not exist are absent.
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, employee::Model>> {
    let rows = employee::Entity::find()
        .filter(employee::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|e| (e.id, e)).collect())
}

/// A validated search text: trimmed, 1 to 100 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    /// Parses the `search` argument; blank means no filter.
    pub fn parse(raw: Option<&str>) -> AppResult<Option<Self>> {
        let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > 100 {
            return Err(AppError::bad_input(
                "search",
                "search text is limited to 100 characters",
            ));
        }
        Ok(Some(Self(text.to_lowercase())))
    }

    /// A LIKE pattern matching the text anywhere, with LIKE wildcards escaped.
    fn like_pattern(&self) -> String {
        let escaped = self
            .0
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    }
}

/// A page of employees ordered by display name, filtered by name or email.
/// Only rows in the caller's scope are listed (admins: everyone).
pub async fn list(
    db: &DatabaseConnection,
    scope: &EmployeeScope,
    page: &PageRequest,
    search: Option<&SearchText>,
) -> AppResult<Page<employee::Model>> {
    let mut query = findable();
    if let Some(ids) = scope.ids() {
        query = query.filter(employee::Column::Id.is_in(ids));
    }
    if let Some(search) = search {
        let pattern = search.like_pattern();
        let matches = |column: employee::Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(
            Condition::any()
                .add(matches(employee::Column::DisplayName))
                .add(matches(employee::Column::Email)),
        );
    }
    if let Some(after) = &page.after {
        query = query.filter(after_condition(
            employee::Column::DisplayName,
            employee::Column::Id,
            after,
        ));
    }
    let rows = query
        .order_by_asc(employee::Column::DisplayName)
        .order_by_asc(employee::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page, |e| Cursor {
        key: e.display_name.clone(),
        id: e.id,
    }))
}

/// Ids per statement: under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHUNK: usize = 10_000;

/// Bumps the availability version of these employees (cached free time built
/// before this change can then never be served). The new version is also at
/// least the current time in microseconds, so versions keep rising even
/// across a database restored from a backup while Redis kept newer entries.
///
/// The rows are locked in id order first: an `UPDATE … WHERE id IN (…)`
/// locks them in scan order, which can differ between two transactions, and
/// two bookings sharing a participant then deadlocked on PostgreSQL. (SQLite
/// takes no row locks; its writers are serialised by `BEGIN IMMEDIATE`.)
pub async fn bump_availability<C: ConnectionTrait>(db: &C, employees: &[Uuid]) -> AppResult<()> {
    if employees.is_empty() {
        return Ok(());
    }
    let mut ids = employees.to_vec();
    ids.sort();
    ids.dedup();
    // Chunks of one sorted list keep the lock order (and stay under every
    // backend's parameter cap). FOR NO KEY UPDATE, not FOR UPDATE: it does
    // not block the key-share locks that inserts referencing these rows take.
    for chunk in ids.chunks(CHUNK) {
        employee::Entity::find()
            .select_only()
            .column(employee::Column::Id)
            .filter(employee::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(employee::Column::Id)
            .lock(LockType::NoKeyUpdate)
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
    }
    let now = Utc::now().timestamp_micros();
    let next = Expr::col(employee::Column::AvailabilityVersion).add(1);
    for chunk in ids.chunks(CHUNK) {
        employee::Entity::update_many()
            .col_expr(
                employee::Column::AvailabilityVersion,
                Expr::case(next.clone().gt(now), next.clone())
                    .finally(now)
                    .into(),
            )
            .filter(employee::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_trimmed_lowercased_and_bounded() {
        assert_eq!(SearchText::parse(Some("  ")).unwrap(), None);
        assert_eq!(
            SearchText::parse(Some(" Zoé ")).unwrap(),
            Some(SearchText("zoé".into()))
        );
        assert!(SearchText::parse(Some(&"x".repeat(101))).is_err());
    }

    #[test]
    fn like_wildcards_in_search_are_literal() {
        let text = SearchText::parse(Some("50%_a")).unwrap().unwrap();
        assert_eq!(text.like_pattern(), "%50\\%\\_a%");
    }
}
