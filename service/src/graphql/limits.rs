//! The shape limits every operation passes before async-graphql sees it.
//!
//! async-graphql's own limits (depth, complexity, recursive depth) run on a
//! parsed document and walk fragments as they are spread: a document nested
//! thousands deep overflows the recursive parser's stack before any limit
//! applies, and a one-kilobyte document whose fragments each spread the next
//! twice makes validation itself take gigabytes. So, in this order, each
//! bounded in time and memory by the size of the text:
//!
//! 1. [`check_nesting`]: one iterative pass over the text counts bracket
//!    nesting (`{ [ (`), outside strings and comments, before any parsing;
//! 2. the document is parsed (now of bounded depth);
//! 3. [`check_shape`]: each fragment's cost (fields, aliases, root fields)
//!    is computed once, in dependency order, so an operation's expanded size
//!    is known without expanding it; fragment cycles are refused here;
//! 4. [`check_text`]: no string, in the document or the variables, holds a
//!    control character ([`crate::domain::text`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Value, Variables};

use crate::domain::text::holds_refused_char;

/// What the expensive fields count towards `GRAPHQL_MAX_COMPLEXITY` (an
/// ordinary field counts 1): each one runs several statements or a whole
/// computation, so a few fill an operation, not a thousand aliases.
pub mod cost {
    /// Free time over a window of up to 92 days (expansion, busy rows, cache).
    pub const AVAILABILITY: usize = 50;
    /// Common slots of a pairing's participants (free time of each).
    pub const COMMON_SLOTS: usize = 25;
    /// A programme's metrics (a dozen aggregates).
    pub const PROGRAMME_METRICS: usize = 100;
    /// One breakdown of a programme's metrics (three aggregates over it).
    pub const BREAKDOWN: usize = 100;
    /// A metrics timeline (two aggregates).
    pub const TIMELINE: usize = 50;
    /// Skill progress (two aggregates).
    pub const SKILL_PROGRESS: usize = 50;
    /// The matcher (`proposeMatches`) or its diagnosis (`unmatchedMentees`).
    pub const MATCHER: usize = 100;
}

/// The limits, from [`crate::config::GraphqlConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Deepest bracket nesting of the text (`{`, `[`, `(` together).
    pub max_nesting: usize,
    /// Most fields an operation may select once its fragments are expanded.
    pub max_fields: usize,
    /// Most aliased fields in one operation, fragments expanded.
    pub max_aliases: usize,
    /// Most root fields of one operation, fragments expanded.
    pub max_root_fields: usize,
}

/// Why a request was refused before execution; the message is for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What was wrong, for the client (no source text quoted).
    pub message: String,
    /// Whether GraphQL itself refuses the document or our limits do.
    pub kind: RefusalKind,
}

/// The two reasons a document never runs: they answer different statuses
/// (see `http::negotiation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not a valid GraphQL document: a syntax error, an unused fragment, a
    /// fragment cycle. A GraphQL request error like any validation error.
    Invalid,
    /// A request the service will not take: no document, a malformed
    /// parameter, or a document over one of the service's limits (nesting,
    /// size, aliases, control characters). Always 400.
    BadRequest,
}

impl Refusal {
    /// A document GraphQL itself refuses.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: RefusalKind::Invalid,
        }
    }

    /// A request with no document, a malformed parameter, or a document
    /// over one of our limits.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: RefusalKind::BadRequest,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks the text, parses it, checks the parsed document and the variables:
/// the document handed to async-graphql (never parsed a second time).
pub fn admit(
    query: &str,
    variables: &Variables,
    limits: &ShapeLimits,
) -> Result<ExecutableDocument, Refusal> {
    let document = admit_text(query, limits)?;
    check_text(&document, variables)?;
    Ok(document)
}

/// What [`admit`] checks of the text alone before [`check_text`] (nesting,
/// syntax, shape, operation names): the parsed document, which
/// [`ParsedDocuments`] may keep.
fn admit_text(query: &str, limits: &ShapeLimits) -> Result<ExecutableDocument, Refusal> {
    check_nesting(query, limits.max_nesting)?;
    let document = async_graphql::parser::parse_query(query).map_err(|err| {
        // The parser's own text quotes the source line: give only where.
        match err.positions().next() {
            Some(at) => Refusal::invalid(format!(
                "syntax error at line {}, column {}",
                at.line, at.column
            )),
            None => Refusal::invalid("syntax error".to_owned()),
        }
    })?;
    check_shape(&document, limits)?;
    check_operation_names(&document)?;
    Ok(document)
}

/// The documents an intranet sends again and again, kept parsed: parsing
/// is a third of the CPU of a small query (the pest grammar), and the
/// front-ends send a handful of texts. [`admit`] with a memory: a text seen
/// before skips the parser and the shape checks (they depend on the text
/// only); [`check_text`], which reads the variables, runs every time.
/// Bounded: texts up to [`ParsedDocuments::MAX_TEXT`] bytes, at most
/// `capacity` of them; a full cache forgets an arbitrary entry, so a flood
/// of distinct texts costs what no cache costs (the eviction is not LRU:
/// such a flood also pushes the front-ends' texts out, which then cost one
/// parse each). A text refused by any check is never kept.
pub struct ParsedDocuments {
    limits: ShapeLimits,
    capacity: usize,
    kept: std::sync::Mutex<HashMap<Box<str>, Arc<ExecutableDocument>>>,
}

impl ParsedDocuments {
    /// Longest text kept (longer ones are parsed each time).
    pub const MAX_TEXT: usize = 4 * 1024;

    /// An empty cache of at most `capacity` documents checked against `limits`.
    pub fn new(limits: ShapeLimits, capacity: usize) -> Self {
        Self {
            limits,
            capacity,
            kept: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// [`admit`], from the cache when the text was admitted before.
    pub fn admit(&self, query: &str, variables: &Variables) -> Result<ExecutableDocument, Refusal> {
        // The lock is let go before the document is copied or parsed (a
        // temporary in a match would hold it through the arms).
        let kept = self.lock().get(query).cloned();
        if let Some(kept) = kept {
            check_text(&kept, variables)?;
            return Ok(ExecutableDocument::clone(&kept));
        }
        let parsed = admit_text(query, &self.limits)?;
        check_text(&parsed, variables)?;
        if query.len() <= Self::MAX_TEXT && self.capacity > 0 {
            let shared = Arc::new(parsed.clone());
            let mut kept = self.lock();
            if kept.len() >= self.capacity
                && let Some(any) = kept.keys().next().cloned()
            {
                kept.remove(&any);
            }
            kept.insert(query.into(), shared);
        }
        Ok(parsed)
    }

    /// How many documents are kept (tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept (tests).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<ExecutableDocument>>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Refuses text whose brackets nest deeper than `max`, in one pass and
/// constant memory. Strings (`"…"`, block strings `"""…"""`) and comments
/// (`#` to the end of the line) do not count.
pub fn check_nesting(query: &str, max: usize) -> Result<(), Refusal> {
    let bytes = query.as_bytes();
    let mut depth: usize = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = end_of_comment(bytes, i),
            b'"' => {
                i = end_of_string(bytes, i)
                    .ok_or_else(|| Refusal::invalid("a string is not terminated".to_owned()))?
            }
            b'{' | b'[' | b'(' => {
                depth = depth.saturating_add(1);
                if depth > max {
                    return Err(Refusal::bad_request(format!(
                        "the document nests deeper than {max} levels"
                    )));
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index just past the comment starting at `start`.
fn end_of_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |offset| start + offset)
}

/// Index just past the string or block string starting at `start`; None
/// when it is not terminated. GraphQL's lexer reads `"""` as a block
/// string's start, but the parser would fall back to two empty strings and
/// go on parsing what this scan would have skipped: an unterminated string
/// is refused here, as the specification makes it an error anyway.
fn end_of_string(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return Some(i + 3);
            } else {
                i += 1;
            }
        }
        return None;
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            b'\n' | b'\r' => return None, // a string ends on its line
            _ => i += 1,
        }
    }
    None
}

/// What a selection set costs once every fragment in it is expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cost {
    fields: usize,
    aliases: usize,
    root_fields: usize,
    /// Deepest nesting of selections and spreads together, fragments expanded.
    depth: usize,
}

/// How often a selection set spreads one fragment: in all, and directly at
/// its own root (where the fragment's fields are root fields).
#[derive(Clone, Copy, Debug, Default)]
struct Spreads {
    anywhere: usize,
    at_root: usize,
    /// The deepest selection level the fragment is spread at.
    deepest: usize,
}

/// A selection set's own cost (its fragment spreads left out) and the
/// fragments it spreads.
#[derive(Default)]
struct Direct {
    own: Cost,
    spreads: HashMap<Name, Spreads>,
}

/// Collects [`Direct`] of a selection set whose fields sit at selection
/// `level` (0: the root); recursion follows the document's nesting, which
/// [`check_nesting`] bounded.
fn direct_cost(set: &SelectionSet, level: usize, into: &mut Direct) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                into.own.fields = into.own.fields.saturating_add(1);
                if field.alias.is_some() {
                    into.own.aliases = into.own.aliases.saturating_add(1);
                }
                if level == 0 {
                    into.own.root_fields = into.own.root_fields.saturating_add(1);
                }
                into.own.depth = into.own.depth.max(level.saturating_add(1));
                direct_cost(&field.selection_set.node, level.saturating_add(1), into);
            }
            Selection::InlineFragment(inline) => {
                direct_cost(&inline.node.selection_set.node, level, into);
            }
            Selection::FragmentSpread(spread) => {
                let entry = into
                    .spreads
                    .entry(spread.node.fragment_name.node.clone())
                    .or_default();
                entry.anywhere = entry.anywhere.saturating_add(1);
                if level == 0 {
                    entry.at_root = entry.at_root.saturating_add(1);
                }
                entry.deepest = entry.deepest.max(level);
            }
        }
    }
}

/// Adds the spread fragments' costs to a direct cost. A spread of a
/// fragment the document does not define costs nothing here; validation
/// reports it.
fn expand(direct: &Direct, costs: &HashMap<Name, Cost>) -> Cost {
    direct
        .spreads
        .iter()
        .fold(direct.own, |total, (name, spreads)| {
            let spread = costs.get(name).copied().unwrap_or_default();
            Cost {
                fields: total
                    .fields
                    .saturating_add(spread.fields.saturating_mul(spreads.anywhere)),
                aliases: total
                    .aliases
                    .saturating_add(spread.aliases.saturating_mul(spreads.anywhere)),
                root_fields: total
                    .root_fields
                    .saturating_add(spread.root_fields.saturating_mul(spreads.at_root)),
                // Each spread is a level of recursion for the validator,
                // as a nested selection is.
                depth: total.depth.max(
                    spreads
                        .deepest
                        .saturating_add(1)
                        .saturating_add(spread.depth),
                ),
            }
        })
}

/// Refuses operations over the limits, and fragment cycles. A fragment's
/// fields count as root fields only where it is spread at the root.
pub fn check_shape(document: &ExecutableDocument, limits: &ShapeLimits) -> Result<(), Refusal> {
    let operations: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    refuse_unused_fragments(document, &operations)?;
    let costs = fragment_costs(document)?;
    let mut all_fields: usize = 0;
    for set in operations {
        let mut direct = Direct::default();
        direct_cost(set, 0, &mut direct);
        let cost = expand(&direct, &costs);
        // Every operation is validated, whichever runs: they count together.
        all_fields = all_fields.saturating_add(cost.fields);
        if cost.depth > limits.max_nesting {
            return Err(Refusal::bad_request(format!(
                "the operation nests deeper than {} levels once its fragments are expanded",
                limits.max_nesting
            )));
        }
        if all_fields > limits.max_fields {
            return Err(Refusal::bad_request(format!(
                "the operation selects more than {} fields once its fragments are expanded",
                limits.max_fields
            )));
        }
        if cost.aliases > limits.max_aliases {
            return Err(Refusal::bad_request(format!(
                "the operation uses more than {} aliases",
                limits.max_aliases
            )));
        }
        if cost.root_fields > limits.max_root_fields {
            return Err(Refusal::bad_request(format!(
                "the operation asks for more than {} root fields",
                limits.max_root_fields
            )));
        }
    }
    Ok(())
}

/// Refuses a fragment no operation reaches (GraphQL: "fragments must be
/// used"), before validation walks it: unused fragments are checked by no
/// limit of ours, yet validated. One walk from the operations' spreads.
fn refuse_unused_fragments(
    document: &ExecutableDocument,
    operations: &[&SelectionSet],
) -> Result<(), Refusal> {
    let spreads_of = |set: &SelectionSet| {
        let mut direct = Direct::default();
        direct_cost(set, 0, &mut direct);
        direct.spreads.into_keys().collect::<Vec<Name>>()
    };
    let mut reached: std::collections::HashSet<Name> = std::collections::HashSet::new();
    let mut to_visit: Vec<Name> = operations.iter().flat_map(|set| spreads_of(set)).collect();
    while let Some(name) = to_visit.pop() {
        if !reached.insert(name.clone()) {
            continue;
        }
        if let Some(fragment) = document.fragments.get(&name) {
            to_visit.extend(spreads_of(&fragment.node.selection_set.node));
        }
    }
    match document
        .fragments
        .keys()
        .find(|name| !reached.contains(*name))
    {
        Some(unused) => Err(Refusal::invalid(format!("fragment {unused} is never used"))),
        None => Ok(()),
    }
}

/// Every fragment's expanded cost, each computed once after the fragments it
/// spreads (Kahn's algorithm: linear in fragments and spreads). Fragments
/// left over form a cycle.
fn fragment_costs(document: &ExecutableDocument) -> Result<HashMap<Name, Cost>, Refusal> {
    let mut direct: HashMap<Name, Direct> = HashMap::with_capacity(document.fragments.len());
    for (name, fragment) in &document.fragments {
        let mut cost = Direct::default();
        direct_cost(&fragment.node.selection_set.node, 0, &mut cost);
        cost.spreads
            .retain(|spread, _| document.fragments.contains_key(spread));
        direct.insert(name.clone(), cost);
    }
    let mut waiting_on: HashMap<&Name, usize> = HashMap::with_capacity(direct.len());
    let mut spread_by: HashMap<&Name, Vec<&Name>> = HashMap::new();
    for (name, cost) in &direct {
        waiting_on.insert(name, cost.spreads.len());
        for spread in cost.spreads.keys() {
            spread_by.entry(spread).or_default().push(name);
        }
    }
    let mut ready: Vec<&Name> = waiting_on
        .iter()
        .filter(|(_, waiting)| **waiting == 0)
        .map(|(name, _)| *name)
        .collect();
    let mut costs: HashMap<Name, Cost> = HashMap::with_capacity(direct.len());
    while let Some(name) = ready.pop() {
        let Some(own) = direct.get(name) else {
            continue;
        };
        costs.insert(name.clone(), expand(own, &costs));
        for dependant in spread_by.get(name).into_iter().flatten() {
            if let Some(waiting) = waiting_on.get_mut(dependant) {
                *waiting = waiting.saturating_sub(1);
                if *waiting == 0 {
                    ready.push(dependant);
                }
            }
        }
    }
    if costs.len() < direct.len() {
        return Err(Refusal::invalid(
            "fragments spread each other in a cycle".to_owned(),
        ));
    }
    Ok(costs)
}

/// Refuses any string holding a control character, in the document's
/// argument values (literals, nested lists and objects) and the variables;
/// and any integer literal beyond 32 bits (see [`literal_has_oversized_int`]).
pub fn check_text(document: &ExecutableDocument, variables: &Variables) -> Result<(), Refusal> {
    let refused = |place: &str| {
        Err(Refusal::bad_request(format!(
            "{place} holds a control character; text may hold none but tab and line breaks"
        )))
    };
    for (name, value) in variables.iter() {
        if value_has_refused_char(value) {
            return refused(&format!("variable ${name}"));
        }
    }
    let mut sets: Vec<&SelectionSet> = document
        .fragments
        .values()
        .map(|fragment| &fragment.node.selection_set.node)
        .collect();
    for (_, op) in document.operations.iter() {
        sets.push(&op.node.selection_set.node);
        if defaults_have_refused_char(&op.node) {
            return refused("a variable's default value");
        }
        if let Some(variable) = default_with_oversized_int(&op.node) {
            return Err(oversized_int(&format!("${variable}")));
        }
    }
    // Every `_entities` field of the document counts together (aliases,
    // fragments, operations), as each representation is one lookup.
    let defaults = variable_defaults(document);
    let mut representations = 0usize;
    while let Some(set) = sets.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if field.node.name.node == "_entities" {
                        representations = representations.saturating_add(representations_in(
                            &field.node.arguments,
                            variables,
                            &defaults,
                        ));
                        if representations > MAX_REPRESENTATIONS {
                            return Err(Refusal::bad_request(format!(
                                "_entities takes at most {MAX_REPRESENTATIONS} representations a document"
                            )));
                        }
                    }
                    for (argument, value) in &field.node.arguments {
                        if literal_has_refused_char(&value.node) {
                            return refused(&format!("argument {}", argument.node));
                        }
                        if literal_has_oversized_int(&value.node) {
                            return Err(oversized_int(&argument.node));
                        }
                    }
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    Ok(())
}

fn defaults_have_refused_char(op: &async_graphql::parser::types::OperationDefinition) -> bool {
    op.variable_definitions.iter().any(|definition| {
        definition
            .node
            .default_value
            .as_ref()
            .is_some_and(|value| value_has_refused_char(&value.node))
    })
}

/// A constant value (variables, defaults); nesting bounded by the JSON
/// parser's limit (128) or by [`check_nesting`].
fn value_has_refused_char(value: &Value) -> bool {
    match value {
        Value::String(text) => holds_refused_char(text),
        Value::Enum(name) => holds_refused_char(name),
        Value::List(items) => items.iter().any(value_has_refused_char),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| holds_refused_char(key) || value_has_refused_char(value)),
        Value::Null | Value::Number(_) | Value::Boolean(_) | Value::Binary(_) => false,
    }
}

/// An argument literal of the document (may refer to variables, checked apart).
fn literal_has_refused_char(value: &async_graphql_value::Value) -> bool {
    use async_graphql_value::Value as Literal;
    match value {
        Literal::String(text) => holds_refused_char(text),
        Literal::List(items) => items.iter().any(literal_has_refused_char),
        Literal::Object(fields) => fields.values().any(literal_has_refused_char),
        _ => false,
    }
}

/// Longest operation name: a name reaches spans, logs and metric labels.
pub const MAX_OPERATION_NAME: usize = 128;

/// Refuses an operation whose name is longer than [`MAX_OPERATION_NAME`].
fn check_operation_names(document: &ExecutableDocument) -> Result<(), Refusal> {
    if document
        .operations
        .iter()
        .any(|(name, _)| name.is_some_and(|name| name.len() > MAX_OPERATION_NAME))
    {
        return Err(Refusal::bad_request(format!(
            "operation names are at most {MAX_OPERATION_NAME} characters"
        )));
    }
    Ok(())
}

/// Refuses a variable declared with a type the schema has no input of
/// (`query($x: [Nope])`): async-graphql 7.2 validates a list-typed
/// variable's default against the type and panics on an unknown one.
/// `input_types`: the schema's scalars, enums and input objects.
pub fn check_variable_types(
    document: &ExecutableDocument,
    input_types: &std::collections::HashSet<String>,
) -> Result<(), Refusal> {
    for (_, op) in document.operations.iter() {
        for definition in &op.node.variable_definitions {
            let mut ty = &definition.node.var_type.node;
            let name = loop {
                match &ty.base {
                    async_graphql::parser::types::BaseType::Named(name) => break name,
                    async_graphql::parser::types::BaseType::List(inner) => ty = inner,
                }
            };
            if !input_types.contains(name.as_str()) {
                return Err(Refusal::invalid(format!(
                    "variable ${} is declared with {name}, which is no input type of the schema",
                    definition.node.name.node
                )));
            }
        }
    }
    Ok(())
}

/// Most representations one document's `_entities` fields look up
/// together (federation): each is one lookup, and a gateway asks for a page
/// of entities at a time.
pub const MAX_REPRESENTATIONS: usize = 500;

/// How many representations an `_entities` field's arguments hold: inline,
/// in a variable, or in that variable's default when the request has none.
fn representations_in(
    arguments: &[(
        async_graphql::Positioned<Name>,
        async_graphql::Positioned<async_graphql_value::Value>,
    )],
    variables: &Variables,
    defaults: &HashMap<&str, &Value>,
) -> usize {
    use async_graphql_value::Value as Literal;
    arguments
        .iter()
        .filter(|(name, _)| name.node == "representations")
        .map(|(_, value)| match &value.node {
            Literal::List(items) => items.len(),
            Literal::Variable(variable) => {
                match variables
                    .get(variable)
                    .or_else(|| defaults.get(variable.as_str()).copied())
                {
                    Some(Value::List(items)) => items.len(),
                    _ => 0,
                }
            }
            _ => 0,
        })
        .sum()
}

/// The default values of the document's variables, by name.
fn variable_defaults(document: &ExecutableDocument) -> HashMap<&str, &Value> {
    document
        .operations
        .iter()
        .flat_map(|(_, op)| op.node.variable_definitions.iter())
        .filter_map(|definition| {
            let default = definition.node.default_value.as_ref()?;
            Some((definition.node.name.node.as_str(), &default.node))
        })
        .collect()
}

/// Whether a literal holds an integer outside `Int`'s 32 bits. async-graphql
/// checks the range only where a field runs, so a literal in an operation
/// not selected, or under `@skip`, would pass validation. Every integer
/// literal our schema accepts is an `Int` (no input takes Float, ID or
/// JSON: `schema_inputs_take_no_wider_numbers` in `graphql::tests` keeps
/// that true), so a wider literal is invalid wherever it stands.
fn literal_has_oversized_int(value: &async_graphql_value::Value) -> bool {
    use async_graphql_value::Value as Literal;
    match value {
        Literal::Number(number) => is_oversized_int(number),
        Literal::List(items) => items.iter().any(literal_has_oversized_int),
        Literal::Object(fields) => fields.values().any(literal_has_oversized_int),
        _ => false,
    }
}

/// [`literal_has_oversized_int`] for a constant (a variable's default).
fn value_has_oversized_int(value: &Value) -> bool {
    match value {
        Value::Number(number) => is_oversized_int(number),
        Value::List(items) => items.iter().any(value_has_oversized_int),
        Value::Object(fields) => fields.values().any(value_has_oversized_int),
        _ => false,
    }
}

/// An integer (not a float) that does not fit in 32 bits.
fn is_oversized_int(number: &async_graphql_value::Number) -> bool {
    match number.as_i64() {
        Some(n) => i32::try_from(n).is_err(),
        None => number.is_u64(),
    }
}

/// The first variable whose default value holds an integer beyond 32 bits.
fn default_with_oversized_int(
    op: &async_graphql::parser::types::OperationDefinition,
) -> Option<&str> {
    op.variable_definitions.iter().find_map(|definition| {
        let default = definition.node.default_value.as_ref()?;
        value_has_oversized_int(&default.node).then(|| definition.node.name.node.as_str())
    })
}

fn oversized_int(place: &str) -> Refusal {
    Refusal::invalid(format!(
        "{place} holds an integer outside Int's range (-2147483648 to 2147483647)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ShapeLimits = ShapeLimits {
        max_nesting: 64,
        max_fields: 2000,
        max_aliases: 30,
        max_root_fields: 30,
    };

    fn admitted(query: &str) -> Result<(), Refusal> {
        admit(query, &Variables::default(), &LIMITS).map(|_| ())
    }

    #[test]
    fn an_integer_beyond_32_bits_is_refused_even_where_nothing_runs() {
        for query in [
            "query A { a } mutation B { b(input: {n: 2147483648}) { id } }",
            "{ a @skip(if: true) { b(first: [1, -2147483649]) } }",
            "query($n: Int = 99999999999) { a(first: $n) }",
        ] {
            let refusal = admitted(query).unwrap_err();
            assert_eq!(refusal.kind, RefusalKind::Invalid, "{query}");
            assert!(refusal.message.contains("Int's range"), "{refusal}");
        }
    }

    #[test]
    fn operation_names_are_bounded() {
        let long = "A".repeat(MAX_OPERATION_NAME + 1);
        assert!(admitted(&format!("query {long} {{ a }}")).is_err());
        assert!(admitted(&format!("query B {{ a }} query {long} {{ b }}")).is_err());
        let longest = "A".repeat(MAX_OPERATION_NAME);
        assert_eq!(admitted(&format!("query {longest} {{ a }}")), Ok(()));
    }

    #[test]
    fn variables_of_unknown_types_are_refused_at_any_list_depth() {
        let known: std::collections::HashSet<String> =
            ["Int", "UUID"].iter().map(|s| (*s).to_owned()).collect();
        let check = |query: &str| {
            let document = async_graphql::parser::parse_query(query).unwrap();
            check_variable_types(&document, &known)
        };
        assert_eq!(check("query($a: Int, $b: [[UUID!]]!) { a }"), Ok(()));
        for query in [
            "query($x: [Nope] = [1]) { __typename }",
            "query($x: Nope) { __typename }",
            "query A { a } query B($y: [[Nope!]]) { b }",
        ] {
            let refusal = check(query).unwrap_err();
            assert_eq!(refusal.kind, RefusalKind::Invalid, "{query}");
            assert!(refusal.message.contains("Nope"), "{refusal}");
        }
    }

    #[test]
    fn entity_lookups_are_capped_inline_and_as_variables() {
        let inline = |n: usize| {
            let items = vec!["{__typename: \"Employee\", id: \"x\"}"; n].join(", ");
            format!("{{ _entities(representations: [{items}]) {{ __typename }} }}")
        };
        assert_eq!(admitted(&inline(MAX_REPRESENTATIONS)), Ok(()));
        let refused = admitted(&inline(MAX_REPRESENTATIONS + 1)).unwrap_err();
        assert!(refused.message.contains("at most 500"), "{refused}");
        let query = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }";
        let many =
            serde_json::json!({ "r": vec![serde_json::json!({"__typename": "Employee"}); 501] });
        let refused = admit(query, &Variables::from_json(many), &LIMITS).unwrap_err();
        assert_eq!(refused.kind, RefusalKind::BadRequest);
        // A default value counts when the request sends no variable.
        let items = vec!["{__typename: \"Employee\"}"; 501].join(", ");
        let by_default = format!(
            "query($r: [_Any!]! = [{items}]) {{ _entities(representations: $r) {{ __typename }} }}"
        );
        assert!(admitted(&by_default).is_err());
        // Aliases add up.
        let half = vec!["{__typename: \"Employee\"}"; 300].join(", ");
        let aliased = format!(
            "{{ a: _entities(representations: [{half}]) {{ __typename }} b: _entities(representations: [{half}]) {{ __typename }} }}"
        );
        assert!(admitted(&aliased).is_err());
    }

    #[test]
    fn integers_within_32_bits_and_floats_are_admitted() {
        for query in [
            "{ a(n: 2147483647, m: -2147483648) }",
            "{ a(x: {y: [0, 1.5e300]}) }",
        ] {
            assert_eq!(admitted(query), Ok(()), "{query}");
        }
    }

    #[test]
    fn nesting_within_the_limit_is_admitted() {
        let query = format!("{{ a(b: {}1{}) }}", "[".repeat(60), "]".repeat(60));
        assert_eq!(check_nesting(&query, 64), Ok(()));
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_before_parsing() {
        for depth in [65, 1_000, 100_000] {
            let query = format!("{{ a(b: {}) }}", "[".repeat(depth));
            assert!(check_nesting(&query, 64).is_err(), "depth {depth}");
            let query = format!("{{ a(b: {}) }}", "{c: ".repeat(depth));
            assert!(check_nesting(&query, 64).is_err(), "objects {depth}");
        }
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let many = "[".repeat(500);
        let query = format!(
            "{{ a(b: \"{many}\\\"{many}\", c: \"\"\"{many}\\\"\"\"{many}\"\"\") # {many}\n }}"
        );
        assert_eq!(check_nesting(&query, 4), Ok(()));
    }

    #[test]
    fn a_fragment_bomb_is_refused_without_expanding_it() {
        let mut query = String::from("{ ...F0 }\n");
        for level in 0..60 {
            let next = level + 1;
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
            ));
        }
        query.push_str("fragment F60 on Query { skills { slug } }\n");
        let started = std::time::Instant::now();
        let refusal = admitted(&query).unwrap_err();
        assert!(
            refusal.message.contains("more than 2000 fields"),
            "{refusal}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn fragments_are_counted_as_often_as_they_are_spread() {
        let fields = |n: usize| (0..n).map(|i| format!("f{i} ")).collect::<String>();
        let fragment = format!("fragment F on A {{ {} }}", fields(100));
        let ok = format!("{{ a {{ {} }} }} {fragment}", "...F ".repeat(19));
        assert_eq!(admitted(&ok), Ok(()), "1,901 fields");
        let over = format!("{{ a {{ {} }} }} {fragment}", "...F ".repeat(20));
        assert!(admitted(&over).is_err(), "2,001 fields");
    }

    #[test]
    fn fragment_cycles_are_refused() {
        let query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(admitted(query).unwrap_err().message.contains("cycle"));
    }

    #[test]
    fn aliases_are_capped_fragments_included() {
        let aliases = |n: usize| {
            (0..n)
                .map(|i| format!("a{i}: skills {{ slug }} "))
                .collect::<String>()
        };
        assert_eq!(admitted(&format!("{{ {} }}", aliases(10))), Ok(()));
        let refused = admitted(&format!("{{ {} }}", aliases(31))).unwrap_err();
        assert!(refused.message.contains("30 aliases"), "{refused}");
        let through_fragment = format!(
            "{{ ...F ...F ...F ...F }} fragment F on Query {{ {} }}",
            aliases(8)
        );
        assert!(admitted(&through_fragment).is_err());
    }

    #[test]
    fn root_fields_are_capped_but_nested_fields_are_not_root_fields() {
        let roots = (0..31).map(|i| format!("f{i} ")).collect::<String>();
        assert!(
            admitted(&format!("{{ {roots} }}"))
                .unwrap_err()
                .message
                .contains("root fields")
        );
        assert_eq!(admitted(&format!("{{ a {{ {roots} }} }}")), Ok(()));
        let nested_fragment = format!("{{ a {{ ...F }} }} fragment F on A {{ {roots} }}");
        assert_eq!(admitted(&nested_fragment), Ok(()));
        let root_fragment = format!("{{ ...F }} fragment F on Query {{ {roots} }}");
        assert!(admitted(&root_fragment).is_err());
    }

    #[test]
    fn control_characters_are_refused_in_literals_and_variables() {
        assert!(admitted("{ employees(search: \"a\\u0000b\") { totalCount } }").is_err());
        assert!(admitted("{ f(input: {names: [\"ok\", \"\\u0007\"]}) }").is_err());
        assert_eq!(admitted("{ f(text: \"tab\\tand\\nlines\") }"), Ok(()));
        let variables = Variables::from_json(serde_json::json!({ "name": "nul\u{0}" }));
        let refusal = admit("query($name: String) { f(a: $name) }", &variables, &LIMITS);
        assert!(refusal.unwrap_err().message.contains("$name"));
    }

    #[test]
    fn a_kept_document_still_has_its_variables_checked() {
        let documents = ParsedDocuments::new(LIMITS, 4);
        let query = "query($name: String) { f(a: $name) }";
        let clean = Variables::from_json(serde_json::json!({ "name": "Zoë" }));
        assert!(documents.admit(query, &clean).is_ok());
        assert_eq!(documents.len(), 1);
        let nul = Variables::from_json(serde_json::json!({ "name": "nul\u{0}" }));
        let refusal = documents.admit(query, &nul).unwrap_err();
        assert!(refusal.message.contains("$name"), "{refusal}");
        assert!(documents.admit(query, &clean).is_ok());
    }

    #[test]
    fn refused_texts_are_not_kept_and_the_cache_stays_bounded() {
        let documents = ParsedDocuments::new(LIMITS, 3);
        let deep = format!("{}{}", "{ a ".repeat(80), "}".repeat(80));
        for refused in ["{ a", "{ a }} }", deep.as_str()] {
            assert!(documents.admit(refused, &Variables::default()).is_err());
        }
        assert!(documents.is_empty());
        for n in 0..10 {
            let query = format!("{{ field{n} }}");
            assert!(documents.admit(&query, &Variables::default()).is_ok());
            assert!(documents.len() <= 3);
        }
        let long = format!("{{ a(s: \"{}\") }}", "x".repeat(ParsedDocuments::MAX_TEXT));
        let fresh = ParsedDocuments::new(LIMITS, 3);
        assert!(fresh.admit(&long, &Variables::default()).is_ok());
        assert!(fresh.is_empty(), "a text over MAX_TEXT is parsed, not kept");
    }
}
