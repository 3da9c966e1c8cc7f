//! Several entities read from one joined statement: each entity's columns
//! selected under a prefix and each model read back with it, the way
//! sea-orm's own `SelectTwo` does, for the joins its builders cannot say
//! (one table joined twice, a page per parent).

use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic as _, Iterable};

/// Selects every column of `E`, read from `table` (its name or an alias),
/// as `{prefix}{column}`; `E::Model::from_query_result(row, prefix)` reads
/// it back. The statement's main entity takes the empty prefix: sea-orm
/// builds a `String` for every prefixed column it reads, so the entity
/// with the most rows reads cheapest unprefixed.
pub fn select_prefixed<E: EntityTrait>(query: &mut SelectStatement, table: &str, prefix: &str) {
    for column in E::Column::iter() {
        let value = column.select_as(Expr::col((Alias::new(table), column)));
        query.expr_as(value, Alias::new(format!("{prefix}{}", column.as_str())));
    }
}
