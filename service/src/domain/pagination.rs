//! Relay-style keyset pagination: validated page sizes and opaque cursors.
//!
//! A cursor is the sort key and id of the last row seen, so pages stay
//! correct while rows are inserted (no OFFSET drift) and each page is one
//! index range scan.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, Condition};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 100;
/// Page size when `first` is omitted.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// Position after which the next page starts: the last row's sort key and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// Sort key of the last row (e.g. its display name).
    #[serde(rename = "k")]
    pub key: String,
    /// Id of the last row, breaking ties between equal keys.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        // Serialising two plain fields cannot fail; fall back to an empty cursor rather than panic.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a cursor a client sent back; anything else is BAD_USER_INPUT on `after`.
    pub fn decode(text: &str) -> AppResult<Self> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| AppError::bad_input("after", "not a cursor returned by this API"))
    }
}

/// Rows strictly after `after` in `(key, id)` order: the keyset condition.
pub fn after_condition(key: impl ColumnTrait, id: impl ColumnTrait, after: &Cursor) -> Condition {
    Condition::any().add(key.gt(after.key.clone())).add(
        Condition::all()
            .add(key.eq(after.key.clone()))
            .add(id.gt(after.id)),
    )
}

/// A validated page request: `first` in 1..=100 and a decoded cursor.
#[derive(Clone, Debug)]
pub struct PageRequest {
    /// How many rows to return.
    pub first: u64,
    /// Start after this position.
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates `first` and `after` as the client sent them.
    pub fn parse(first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&first) {
            return Err(AppError::bad_input(
                "first",
                format!("first must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let after = after.map(Cursor::decode).transpose()?;
        Ok(Self {
            first: first as u64,
            after,
        })
    }
}

/// One page of rows, each with the cursor that points at it.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// Rows with their cursors, in order.
    pub items: Vec<(Cursor, T)>,
    /// Whether more rows follow.
    pub has_next: bool,
    /// Whether the page started after a cursor.
    pub has_previous: bool,
}

impl<T> Page<T> {
    /// Builds a page from `first + 1` fetched rows: the extra row only tells that more follow.
    pub fn from_rows(
        mut rows: Vec<T>,
        request: &PageRequest,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Self {
        let has_next = rows.len() as u64 > request.first;
        rows.truncate(request.first as usize);
        Self {
            items: rows.into_iter().map(|row| (cursor_of(&row), row)).collect(),
            has_next,
            has_previous: request.after.is_some(),
        }
    }
}

impl<T> Page<T> {
    /// A page of rows already in memory and sorted by cursor (a few rows per
    /// parent, loaded in one batch for many parents).
    pub fn from_sorted(rows: &[T], request: &PageRequest, cursor_of: impl Fn(&T) -> Cursor) -> Self
    where
        T: Clone,
    {
        let after = |row: &T| match &request.after {
            Some(after) => {
                let cursor = cursor_of(row);
                (cursor.key.as_str(), cursor.id) > (after.key.as_str(), after.id)
            }
            None => true,
        };
        let rest: Vec<T> = rows
            .iter()
            .filter(|row| after(row))
            .take(request.first as usize + 1)
            .cloned()
            .collect();
        Self::from_rows(rest, request, cursor_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_bad_input() {
        let cursor = Cursor {
            key: "Zoé Martin".into(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(
            matches!(Cursor::decode("not-a-cursor"), Err(AppError::BadInput { field, .. }) if field == "after")
        );
    }

    #[test]
    fn first_is_bounded() {
        assert_eq!(PageRequest::parse(None, None).unwrap().first, 20);
        assert_eq!(PageRequest::parse(Some(100), None).unwrap().first, 100);
        for bad in [0, -1, 101] {
            assert!(
                matches!(PageRequest::parse(Some(bad), None), Err(AppError::BadInput { field, .. }) if field == "first")
            );
        }
    }

    #[test]
    fn in_memory_pages_continue_after_the_cursor() {
        let rows: Vec<u32> = (1..=5).collect();
        let cursor = |n: &u32| Cursor {
            key: format!("{n:03}"),
            id: Uuid::nil(),
        };
        let first = Page::from_sorted(&rows, &PageRequest::parse(Some(2), None).unwrap(), cursor);
        assert_eq!(
            first.items.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [1, 2]
        );
        let next = PageRequest {
            first: 2,
            after: Some(first.items[1].0.clone()),
        };
        let second = Page::from_sorted(&rows, &next, cursor);
        assert_eq!(
            second.items.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [3, 4]
        );
        assert!(second.has_next && second.has_previous);
    }

    #[test]
    fn the_extra_row_means_a_next_page() {
        let request = PageRequest::parse(Some(2), None).unwrap();
        let cursor = |n: &u32| Cursor {
            key: n.to_string(),
            id: Uuid::nil(),
        };
        let page = Page::from_rows(vec![1, 2, 3], &request, cursor);
        assert!(page.has_next);
        assert_eq!(page.items.len(), 2);
        assert!(!Page::from_rows(vec![1, 2], &request, cursor).has_next);
    }
}
