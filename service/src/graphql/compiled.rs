//! Compiled reads: the one document the intranet sends on every page view —
//! the main screen, `MAIN_SCREEN` below — answered from one statement
//! (`domain::pairings::screen`) instead of through the executor.
//!
//! Through the executor the main screen costs ≈ 1.9 ms of CPU, half of it
//! async-graphql's per-field machinery and three general statements; the
//! compiled read is what makes Tandem faster than PostGraphile on it
//! (docs/benchmarks.md, issue #18). It changes nothing a client can tell:
//!
//! - it answers only a document whose operation is exactly that selection
//!   (however it is spaced, with or without an operation name): no alias,
//!   fragment, directive or variable, nothing more or less selected;
//! - it applies the same field rules (`domain/access.rs`) to what it read,
//!   and where any rule would hide or blank a field it answers nothing, so
//!   that the general path gives the answer (and the error) it always gave;
//! - it writes every value with the API's own conversions (the scalars'
//!   `to_value`, the enums' names).
//!
//! The HTTP layer keeps everything around it: authentication, rate limit,
//! trusted documents, the caller's fair share, the timeout, spans and
//! metrics. The executor's own limits (depth, complexity) are checked once,
//! by the first request that would take a compiled read ([`within_limits`]):
//! limits the main screen exceeds turn the compiled read off, so that the
//! executor refuses it as it always did.
//! `GRAPHQL_COMPILED_READS=false` turns it off; SQLite has none.

use std::sync::LazyLock;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::resolver_utils::enum_value;
use async_graphql::{Name, ScalarType, Value};
use sea_orm::DatabaseConnection;

use super::AppSchema;
use super::pairings::{GoalStatus, PairingStatus};
use super::scalars::{Date, DateTime};
use super::sessions::{SessionMode, SessionStatus};
use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::domain::pairings::screen::{self, Named, ScreenGoal, ScreenPairing, ScreenSession};
use crate::error::AppResult;

/// The intranet's main screen (issue #18's nested query).
pub const MAIN_SCREEN: &str = "{ myPairings { id status score programme { name } \
    mentor { displayName } mentees { displayName } \
    sessions(first: 10) { edges { node { startsAt endsAt status mode topics { name } } } } \
    goals { description status dueOn skill { name } } } }";

/// The sessions the main screen shows per pairing (its `first: 10`; a test
/// holds them together).
const SESSIONS_SHOWN: u64 = 10;

/// [`MAIN_SCREEN`]'s selection, parsed once.
static MAIN_SCREEN_SELECTION: LazyLock<Option<SelectionSet>> = LazyLock::new(|| {
    match async_graphql::parser::parse_query(MAIN_SCREEN)
        .ok()?
        .operations
    {
        DocumentOperations::Single(operation) => Some(operation.node.selection_set.node),
        DocumentOperations::Multiple(_) => None,
    }
});

/// A read the service answers without the executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompiledRead {
    /// [`MAIN_SCREEN`].
    MainScreen,
}

/// The compiled read `document` is, with `operation_name` selecting its
/// operation as the executor would; None for anything else.
pub fn recognise(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<CompiledRead> {
    if !document.fragments.is_empty() {
        return None;
    }
    // As async-graphql picks the operation: an anonymous one when no name
    // is given; a named one by its name, or as the document's only one.
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) if operations.len() == 1 => {
            operations.get(name)?
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?
        }
        _ => return None,
    };
    let operation = &operation.node;
    let plain = operation.ty == OperationType::Query
        && operation.variable_definitions.is_empty()
        && operation.directives.is_empty();
    let main_screen = MAIN_SCREEN_SELECTION.as_ref()?;
    (plain && same_selection(&operation.selection_set.node, main_screen))
        .then_some(CompiledRead::MainScreen)
}

/// Whether two selections select the same fields with the same arguments,
/// in the same order, with no alias, directive or fragment on either side.
fn same_selection(given: &SelectionSet, known: &SelectionSet) -> bool {
    given.items.len() == known.items.len()
        && given.items.iter().zip(&known.items).all(|(given, known)| {
            match (&given.node, &known.node) {
                (Selection::Field(given), Selection::Field(known)) => {
                    let (given, known) = (&given.node, &known.node);
                    given.alias.is_none()
                        && known.alias.is_none()
                        && given.directives.is_empty()
                        && known.directives.is_empty()
                        && given.name == known.name
                        && given.arguments == known.arguments
                        && same_selection(&given.selection_set.node, &known.selection_set.node)
                }
                _ => false,
            }
        })
}

/// Whether the executor's limits (depth, complexity, recursion,
/// directives) admit every compiled read: it is asked once, for
/// a caller with no employee and no role, whom the field's guard refuses
/// before anything is read — so that the executor's refusal (errors
/// located nowhere: validation) can be told from the field's (located at
/// the field).
pub async fn within_limits(schema: &AppSchema) -> bool {
    let nobody = Caller {
        subject: "start-up check of the compiled reads".to_owned(),
        employee_id: None,
        roles: std::collections::BTreeSet::new(),
    };
    let request = async_graphql::Request::new(MAIN_SCREEN)
        .data(super::context::RequestData::new(nobody, String::new()));
    let response = schema.execute(request).await;
    response.errors.iter().all(|error| !error.path.is_empty())
}

/// The answer's `data` to `read` for `caller`; None when the general path
/// must answer: SQLite (no one-statement read), a caller the area is closed
/// to, or a pairing where a field rule would hide something.
pub async fn answer(
    read: CompiledRead,
    db: &DatabaseConnection,
    caller: &Caller,
) -> AppResult<Option<Value>> {
    match read {
        CompiledRead::MainScreen => main_screen(db, caller).await,
    }
}

async fn main_screen(db: &DatabaseConnection, caller: &Caller) -> AppResult<Option<Value>> {
    if !access::may_reach(caller, Area::People) {
        return Ok(None);
    }
    let Some(pairings) = screen::main_screen(db, caller, SESSIONS_SHOWN).await? else {
        return Ok(None);
    };
    if !pairings.iter().all(|pairing| shown_whole(caller, pairing)) {
        return Ok(None);
    }
    let pairings = pairings.into_iter().map(pairing_value).collect();
    Ok(Some(object([("myPairings", Value::List(pairings))])))
}

/// Whether every field of the screen shows this pairing to the caller as
/// stored: members (`mentor`, `mentees`), `score`, `goals` — the rules the
/// `Pairing` resolvers apply (`graphql/pairings.rs`), asked of the same
/// functions; a rule added to one of those fields belongs here too.
fn shown_whole(caller: &Caller, pairing: &ScreenPairing) -> bool {
    let mentees: Vec<_> = pairing.mentees.iter().map(|mentee| mentee.id).collect();
    access::sees_members(caller, pairing.status, pairing.mentor_id, &mentees)
        && access::reads_match_reasons(caller, pairing.mentor_id, &mentees)
        && access::reads_goals(caller, pairing.mentor_id, &mentees, false)
}

fn pairing_value(pairing: ScreenPairing) -> Value {
    let score = pairing.score.map_or(Value::Null, |score| score.to_value());
    object([
        ("id", pairing.id.to_value()),
        ("status", enum_value(PairingStatus::from(pairing.status))),
        ("score", score),
        ("programme", named("name", pairing.programme_name)),
        ("mentor", named("displayName", pairing.mentor_name)),
        (
            "mentees",
            list(pairing.mentees, |mentee| named("displayName", mentee.name)),
        ),
        ("sessions", sessions_value(pairing.sessions)),
        ("goals", list(pairing.goals, goal_value)),
    ])
}

/// A connection of sessions, as `sessions(first: …) { edges { node } }`.
fn sessions_value(sessions: Vec<ScreenSession>) -> Value {
    let edges = list(sessions, |session| {
        let node = object([
            ("startsAt", DateTime(session.starts_at).to_value()),
            ("endsAt", DateTime(session.ends_at).to_value()),
            ("status", enum_value(SessionStatus::from(session.status))),
            ("mode", enum_value(SessionMode::from(session.mode))),
            ("topics", list(session.topics, topic_value)),
        ]);
        object([("node", node)])
    });
    object([("edges", edges)])
}

fn goal_value(goal: ScreenGoal) -> Value {
    object([
        ("description", Value::String(goal.description)),
        ("status", enum_value(GoalStatus::from(goal.status))),
        (
            "dueOn",
            goal.due_on.map_or(Value::Null, |due| Date(due).to_value()),
        ),
        ("skill", goal.skill.map_or(Value::Null, topic_value)),
    ])
}

fn topic_value(skill: Named) -> Value {
    named("name", skill.name)
}

/// `{ <field>: name }`.
fn named(field: &'static str, name: String) -> Value {
    object([(field, Value::String(name))])
}

fn list<T>(items: Vec<T>, value: impl FnMut(T) -> Value) -> Value {
    Value::List(items.into_iter().map(value).collect())
}

fn object<const N: usize>(fields: [(&'static str, Value); N]) -> Value {
    let mut map = IndexMap::with_capacity(N);
    for (name, value) in fields {
        map.insert(Name::new(name), value);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognised(text: &str, operation_name: Option<&str>) -> Option<CompiledRead> {
        let document = async_graphql::parser::parse_query(text).expect("a document");
        recognise(&document, operation_name)
    }

    #[test]
    fn the_page_read_is_the_page_the_document_asks_for() {
        let asked = format!("sessions(first: {SESSIONS_SHOWN})");
        assert!(MAIN_SCREEN.contains(&asked), "{MAIN_SCREEN}");
    }

    #[test]
    fn the_main_screen_is_recognised() {
        assert_eq!(
            recognised(MAIN_SCREEN, None),
            Some(CompiledRead::MainScreen)
        );
    }

    #[test]
    fn spacing_commas_and_the_query_keyword_do_not_matter() {
        let spaced = "query {\n  myPairings {\n    id, status, score\n    programme { name }\n    \
            mentor { displayName } mentees { displayName }\n    \
            sessions( first : 10 ) { edges { node { startsAt endsAt status mode topics { name } } } }\n    \
            goals { description status dueOn skill { name } }\n  }\n}\n";
        assert_eq!(recognised(spaced, None), Some(CompiledRead::MainScreen));
    }

    #[test]
    fn a_named_operation_is_recognised_when_the_request_names_it() {
        let named = format!("query MainScreen {}", MAIN_SCREEN);
        assert_eq!(
            recognised(&named, Some("MainScreen")),
            Some(CompiledRead::MainScreen)
        );
        // The only operation: async-graphql runs it unnamed too.
        assert_eq!(recognised(&named, None), Some(CompiledRead::MainScreen));
        assert_eq!(recognised(&named, Some("Other")), None);
        assert_eq!(recognised(MAIN_SCREEN, Some("MainScreen")), None);
    }

    #[test]
    fn another_selection_is_not() {
        for other in [
            // A field less, a field more, another order.
            MAIN_SCREEN.replace("score ", ""),
            MAIN_SCREEN.replace("score ", "score reasons { kind } "),
            MAIN_SCREEN.replace("id status", "status id"),
            // Another page, another argument, a typename.
            MAIN_SCREEN.replace("first: 10", "first: 11"),
            MAIN_SCREEN.replace("first: 10", "first: 10, after: \"x\""),
            MAIN_SCREEN.replace("{ name } mentor", "{ name __typename } mentor"),
            MAIN_SCREEN.replace("myPairings {", "myPairings(status: ACTIVE) {"),
            // Another root field beside it.
            MAIN_SCREEN.replacen("{ myPairings", "{ me { id } myPairings", 1),
        ] {
            assert_eq!(recognised(&other, None), None, "{other}");
        }
    }

    #[test]
    fn aliases_directives_fragments_and_variables_are_not() {
        for other in [
            MAIN_SCREEN.replace("id status", "id: id status"),
            MAIN_SCREEN.replace("{ myPairings", "{ screen: myPairings"),
            MAIN_SCREEN.replace("score ", "score @include(if: true) "),
            format!("query @cached {}", MAIN_SCREEN),
            format!(
                "query($n: Int!) {}",
                MAIN_SCREEN.replace("first: 10", "first: $n")
            ),
            format!(
                "{} fragment P on Pairing {{ id }}",
                MAIN_SCREEN.replace("myPairings { id", "myPairings { ...P")
            ),
            MAIN_SCREEN.replace("myPairings { id", "myPairings { ... on Pairing { id }"),
        ] {
            assert_eq!(recognised(&other, None), None, "{other}");
        }
    }

    #[test]
    fn a_mutation_of_the_same_shape_is_not() {
        let mutation = format!("mutation {}", MAIN_SCREEN);
        assert_eq!(recognised(&mutation, None), None);
    }

    #[test]
    fn a_second_operation_in_the_document_is_not() {
        let two = format!("query A {} query B {{ me {{ id }} }}", MAIN_SCREEN);
        assert_eq!(recognised(&two, Some("A")), None);
        assert_eq!(recognised(&two, None), None);
    }

    async fn admitted_with(settings: &[(&str, &str)]) -> bool {
        let env: std::collections::HashMap<String, String> = settings
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let config = crate::config::Config::from_source(&env).expect("a configuration");
        within_limits(&super::super::offline_schema(&config)).await
    }

    #[tokio::test]
    async fn the_default_limits_admit_the_main_screen() {
        assert!(admitted_with(&[]).await);
    }

    #[tokio::test]
    async fn limits_the_main_screen_exceeds_turn_the_compiled_read_off() {
        // Six levels deep, five nested selections, a complexity of 96.
        assert!(admitted_with(&[("GRAPHQL_MAX_DEPTH", "6")]).await);
        assert!(!admitted_with(&[("GRAPHQL_MAX_DEPTH", "5")]).await);
        assert!(!admitted_with(&[("GRAPHQL_MAX_RECURSIVE_DEPTH", "4")]).await);
        assert!(!admitted_with(&[("GRAPHQL_MAX_COMPLEXITY", "50")]).await);
    }
}
