//! What an HRIS run will do, decided without touching the database: every
//! row validated, references resolved against the stored company and the
//! rest of the input, loops found, and the rows that really change listed in
//! an order the database accepts (parents and managers first).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike as _, Utc};
use entity::enums::{EmployeeStatus, Generation};
use entity::{department, employee};
use uuid::Uuid;

/// Longest external id accepted.
const MAX_EXTERNAL_ID: usize = 100;
/// Longest name, title or display name accepted.
const MAX_TEXT: usize = 200;
/// Zone of a new employee whose record names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// A department as the HRIS sends it.
#[derive(Clone, Debug, Default)]
pub struct DepartmentRecord {
    /// The HRIS's own key.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// The parent department's key, if any.
    pub parent_external_id: Option<String>,
}

/// An employee as the HRIS sends it. Attributes the HRIS owns (names, title,
/// department, manager, seniority) are replaced by the record; those with a
/// life in Tandem (time zone, status, generation) are kept when omitted.
#[derive(Clone, Debug, Default)]
pub struct EmployeeRecord {
    /// The HRIS's own key; records are matched on it.
    pub external_id: String,
    /// Work email (stored in lower case).
    pub email: String,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub family_name: Option<String>,
    /// Name shown; default "given family", else the email's local part.
    pub display_name: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Key of the department.
    pub department_external_id: Option<String>,
    /// Key of the manager (may be a later record of the same input).
    pub manager_external_id: Option<String>,
    /// 1 (most junior) to 12.
    pub seniority_level: Option<i32>,
    /// Only derives the generation; never stored.
    pub birth_year: Option<i32>,
    /// IANA zone.
    pub timezone: Option<String>,
    /// Employment status (default for a new employee: ACTIVE).
    pub status: Option<EmployeeStatus>,
}

/// A rejected input row: the rest of the run goes on without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// Position in the input (departments first, then employees).
    pub row_index: usize,
    /// The row's external id, as sent.
    pub external_id: String,
    /// The input field at fault, if one is.
    pub field: Option<&'static str>,
    /// What is wrong, for the HRIS team.
    pub message: String,
}

/// The stored company a run is planned against.
#[derive(Default)]
pub struct Stored {
    /// Every department.
    pub departments: Vec<department::Model>,
    /// Every employee.
    pub employees: Vec<employee::Model>,
    /// When each erased identity was erased, by the SHA-256 of its
    /// externalId: a push cannot bring an erased person back.
    pub erased: HashMap<String, DateTime<Utc>>,
}

/// Everything a run will write, and its counts.
#[derive(Debug, Default)]
pub struct Plan {
    /// Departments to insert or update, parents first.
    pub departments: Vec<department::Model>,
    /// Employees to insert or update, managers first (then in input order).
    /// A leaver keeps their current status here: the termination applies it
    /// with its effects.
    pub employees: Vec<employee::Model>,
    /// Employees to set TERMINATED (and whose pairings, sessions and
    /// enrolments end with it).
    pub terminations: Vec<Uuid>,
    /// Rows that create a department or an employee.
    pub created: usize,
    /// Rows that change one.
    pub updated: usize,
    /// Rows identical to what is stored.
    pub unchanged: usize,
    /// Of which absent from a FULL_SNAPSHOT.
    pub absent: usize,
    /// Employees not TERMINATED before the run.
    pub active_before: usize,
    /// Rejected rows, in input order.
    pub errors: Vec<RowError>,
}

/// Plans a run of `departments` and `employees` over `stored`; with
/// `snapshot`, every active employee missing from the input is a leaver.
pub fn plan(
    departments: &[DepartmentRecord],
    employees: &[EmployeeRecord],
    snapshot: bool,
    stored: &Stored,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    let department_ids = plan_departments(departments, stored, now, &mut plan);
    plan_employees(
        employees,
        departments.len(),
        &department_ids,
        stored,
        now,
        &mut plan,
    );
    if snapshot {
        let present: HashSet<&str> = employees.iter().map(|e| e.external_id.trim()).collect();
        for person in &stored.employees {
            if person.status != EmployeeStatus::Terminated
                && !present.contains(person.external_id.as_str())
            {
                plan.terminations.push(person.id);
                plan.absent += 1;
            }
        }
    }
    plan.active_before = stored
        .employees
        .iter()
        .filter(|e| e.status != EmployeeStatus::Terminated)
        .count();
    plan.errors.sort_by_key(|e| e.row_index);
    plan
}

/// Rows rejected so far, in the order found (sorted by row at the end).
struct Rejections<'a> {
    errors: &'a mut Vec<RowError>,
}

impl Rejections<'_> {
    fn reject(
        &mut self,
        row_index: usize,
        external_id: &str,
        field: &'static str,
        message: String,
    ) {
        self.errors.push(RowError {
            row_index,
            external_id: external_id.to_owned(),
            field: Some(field),
            message,
        });
    }
}

/// When the identity `key` was erased, if it was (hashed only when some were).
fn erased_on(erased: &HashMap<String, DateTime<Utc>>, key: &str) -> Option<DateTime<Utc>> {
    if erased.is_empty() {
        return None;
    }
    erased
        .get(&crate::domain::erasure::identity_hash(key))
        .copied()
}

/// Trimmed text, None when empty.
fn text(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The external ids that occur more than once.
fn repeated<'a>(keys: impl Iterator<Item = &'a str>) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut twice = HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            twice.insert(key);
        }
    }
    twice
}

/// The emails several `rows` (key, email) of the input share, each a clash
/// for every row sharing it; except when exactly one of them is the stored
/// employee holding the email: one wrong line in an export must not block
/// the holder's own update, so the holder's row keeps it and the others
/// fail as taking another employee's email.
fn clashing_emails<'a>(
    rows: &[(&str, &'a str)],
    holder_of_email: &HashMap<&str, &str>,
) -> HashSet<&'a str> {
    // Email → (rows sharing it, of which rows of its stored holder).
    let mut sharing: HashMap<&str, (usize, usize)> = HashMap::new();
    for &(key, email) in rows {
        let (copies, of_holder) = sharing.entry(email).or_default();
        *copies = copies.saturating_add(1);
        if holder_of_email.get(email) == Some(&key) {
            *of_holder = of_holder.saturating_add(1);
        }
    }
    sharing
        .into_iter()
        .filter(|&(_, (copies, of_holder))| copies > 1 && of_holder != 1)
        .map(|(email, _)| email)
        .collect()
}

/// Plans the departments; answers the id every known department key will have.
fn plan_departments(
    records: &[DepartmentRecord],
    stored: &Stored,
    now: DateTime<Utc>,
    plan: &mut Plan,
) -> HashMap<String, Uuid> {
    let by_key: HashMap<&str, &department::Model> = stored
        .departments
        .iter()
        .map(|d| (d.external_id.as_str(), d))
        .collect();
    let key_of: HashMap<Uuid, &str> = stored
        .departments
        .iter()
        .map(|d| (d.id, d.external_id.as_str()))
        .collect();
    let twice = repeated(records.iter().map(|r| r.external_id.trim()));
    let mut errors = Rejections {
        errors: &mut plan.errors,
    };
    let mut live: HashMap<String, (usize, String, Option<String>)> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        let key = record.external_id.trim();
        let name = record.name.trim();
        if let Some(message) = external_id_problem(key, twice.contains(key)) {
            errors.reject(index, key, "externalId", message);
        } else if name.is_empty() || name.chars().count() > MAX_TEXT {
            errors.reject(
                index,
                key,
                "name",
                format!("a department name has 1 to {MAX_TEXT} characters"),
            );
        } else {
            let parent = text(record.parent_external_id.as_ref());
            live.insert(key.to_owned(), (index, name.to_owned(), parent));
        }
    }
    let links: Vec<(&str, Option<&str>)> = live
        .iter()
        .map(|(k, (_, _, p))| (k.as_str(), p.as_deref()))
        .collect();
    let stored_links: Vec<(&str, Option<&str>)> = stored
        .departments
        .iter()
        .map(|d| {
            let parent = d.parent_id.and_then(|p| key_of.get(&p)).copied();
            (d.external_id.as_str(), parent)
        })
        .collect();
    let problems = unresolvable(&links, &stored_links);
    for (key, problem) in problems {
        if let Some((index, _, _)) = live.remove(&key) {
            let message = problem.describe("parent department");
            errors.reject(index, &key, "parentExternalId", message);
        }
    }
    let mut ids: HashMap<String, Uuid> = stored
        .departments
        .iter()
        .map(|d| (d.external_id.clone(), d.id))
        .collect();
    for key in live.keys() {
        if !ids.contains_key(key) {
            ids.insert(key.clone(), super::super::new_id());
        }
    }
    let mut changed = Vec::new();
    for (key, (_, name, parent)) in &live {
        let parent_id = parent.as_ref().and_then(|p| ids.get(p)).copied();
        match by_key.get(key.as_str()) {
            Some(current) if current.name == *name && current.parent_id == parent_id => {
                plan.unchanged += 1;
            }
            Some(current) => {
                plan.updated += 1;
                changed.push(department::Model {
                    name: name.clone(),
                    parent_id,
                    updated_at: now,
                    ..(*current).clone()
                });
            }
            None => {
                plan.created += 1;
                changed.push(department::Model {
                    id: ids[key],
                    external_id: key.clone(),
                    name: name.clone(),
                    parent_id,
                    created_at: now,
                    updated_at: now,
                });
            }
        }
    }
    changed.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    plan.departments = parents_first(changed, |d| d.id, |d| d.parent_id);
    ids
}

fn external_id_problem(key: &str, repeated: bool) -> Option<String> {
    if key.is_empty() || key.chars().count() > MAX_EXTERNAL_ID {
        Some(format!(
            "an externalId has 1 to {MAX_EXTERNAL_ID} characters"
        ))
    } else if key.starts_with(crate::domain::erasure::ERASED_KEY_PREFIX) {
        Some(format!(
            "an externalId cannot begin with `{}` (Tandem's mark of an erased person)",
            crate::domain::erasure::ERASED_KEY_PREFIX
        ))
    } else if repeated {
        Some(format!(
            "externalId `{key}` appears in several records of this input"
        ))
    } else {
        None
    }
}

/// A valid employee row before references are resolved.
struct Candidate {
    index: usize,
    email: String,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    manager: Option<String>,
    seniority_level: Option<i32>,
    generation: Option<Generation>,
    timezone: Option<String>,
    status: Option<EmployeeStatus>,
}

fn plan_employees(
    records: &[EmployeeRecord],
    first_index: usize,
    department_ids: &HashMap<String, Uuid>,
    stored: &Stored,
    now: DateTime<Utc>,
    plan: &mut Plan,
) {
    let by_key: HashMap<&str, &employee::Model> = stored
        .employees
        .iter()
        .map(|e| (e.external_id.as_str(), e))
        .collect();
    let key_of: HashMap<Uuid, &str> = stored
        .employees
        .iter()
        .map(|e| (e.id, e.external_id.as_str()))
        .collect();
    let holder_of_email: HashMap<&str, &str> = stored
        .employees
        .iter()
        .map(|e| (e.email.as_str(), e.external_id.as_str()))
        .collect();
    let twice = repeated(records.iter().map(|r| r.external_id.trim()));
    let emails: Vec<String> = records
        .iter()
        .map(|r| r.email.trim().to_lowercase())
        .collect();
    let rows: Vec<(&str, &str)> = records
        .iter()
        .zip(&emails)
        .map(|(r, email)| (r.external_id.trim(), email.as_str()))
        .collect();
    let shared_emails = clashing_emails(&rows, &holder_of_email);
    let mut errors = Rejections {
        errors: &mut plan.errors,
    };
    // Accepted records in input order (a key in several records is
    // rejected in all of them, so each key is here once at most).
    let mut live: Vec<(&str, Candidate)> = Vec::with_capacity(records.len());
    for (offset, record) in records.iter().enumerate() {
        let index = first_index + offset;
        let key = record.external_id.trim();
        let email = &emails[offset];
        let checked = check_employee(record, key, email, now).and_then(|candidate| {
            if let Some(message) = external_id_problem(key, twice.contains(key)) {
                return Err(("externalId", message));
            }
            if let Some(at) = erased_on(&stored.erased, key) {
                return Err((
                    "externalId",
                    format!(
                        "erased on {}: this person's data was erased; send them with a new externalId",
                        at.format("%Y-%m-%d")
                    ),
                ));
            }
            if shared_emails.contains(email.as_str()) {
                return Err((
                    "email",
                    format!("email `{email}` appears in several records of this input"),
                ));
            }
            if holder_of_email
                .get(email.as_str())
                .is_some_and(|holder| *holder != key)
            {
                return Err((
                    "email",
                    format!("email `{email}` belongs to another employee"),
                ));
            }
            match &candidate.department {
                Some(d) if !department_ids.contains_key(d) => Err((
                    "departmentExternalId",
                    format!("department `{d}` is neither stored nor valid in this input"),
                )),
                _ => Ok(candidate),
            }
        });
        match checked {
            Ok(mut candidate) => {
                candidate.index = index;
                live.push((key, candidate));
            }
            Err((field, message)) => errors.reject(index, key, field, message),
        }
    }
    let links: Vec<(&str, Option<&str>)> = live
        .iter()
        .map(|(k, c)| (*k, c.manager.as_deref()))
        .collect();
    let stored_links: Vec<(&str, Option<&str>)> = stored
        .employees
        .iter()
        .map(|e| {
            let manager = e.manager_id.and_then(|m| key_of.get(&m)).copied();
            (e.external_id.as_str(), manager)
        })
        .collect();
    let problems: HashMap<String, Problem> =
        unresolvable(&links, &stored_links).into_iter().collect();
    drop(links);
    if !problems.is_empty() {
        live.retain(|(key, candidate)| match problems.get(*key) {
            Some(problem) => {
                let message = problem.describe("manager");
                errors.reject(candidate.index, key, "managerExternalId", message);
                false
            }
            None => true,
        });
    }
    let mut ids: HashMap<&str, Uuid> = stored
        .employees
        .iter()
        .map(|e| (e.external_id.as_str(), e.id))
        .collect();
    for (key, _) in &live {
        ids.entry(key).or_insert_with(super::super::new_id);
    }
    let mut changed = Vec::new();
    for (key, candidate) in live {
        let current = by_key.get(key).copied();
        let leaving = candidate.status == Some(EmployeeStatus::Terminated);
        let mut row = employee_row(key, candidate, current, &ids, department_ids, now);
        match current {
            None => {
                plan.created += 1;
                changed.push(row);
            }
            Some(current) => {
                let leaving = leaving && current.status != EmployeeStatus::Terminated;
                let differs = !same_employee(&mut row, current);
                if leaving {
                    plan.terminations.push(current.id);
                } else if differs {
                    plan.updated += 1;
                } else {
                    plan.unchanged += 1;
                }
                if differs {
                    changed.push(row);
                }
            }
        }
    }
    plan.employees = parents_first(changed, |e| e.id, |e| e.manager_id);
}

/// Validates one record's own fields.
fn check_employee(
    record: &EmployeeRecord,
    key: &str,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Candidate, (&'static str, String)> {
    if !is_email(email) {
        return Err((
            "email",
            format!("`{}` is not an email address", record.email.trim()),
        ));
    }
    let given_name = text(record.given_name.as_ref());
    let family_name = text(record.family_name.as_ref());
    let display_name = text(record.display_name.as_ref());
    let job_title = text(record.job_title.as_ref());
    for (field, value) in [
        ("givenName", &given_name),
        ("familyName", &family_name),
        ("displayName", &display_name),
        ("jobTitle", &job_title),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
            return Err((
                field,
                format!("{field} is limited to {MAX_TEXT} characters"),
            ));
        }
    }
    if let Some(level) = record.seniority_level
        && !(1..=12).contains(&level)
    {
        return Err((
            "seniorityLevel",
            format!("seniorityLevel must be 1 to 12, got {level}"),
        ));
    }
    let generation = match record.birth_year {
        None => None,
        Some(year) => Some(generation_of(year, now.year()).ok_or_else(|| {
            (
                "birthYear",
                format!("birthYear {year} is not a plausible year of birth for an employee"),
            )
        })?),
    };
    let timezone = match text(record.timezone.as_ref()) {
        None => None,
        Some(zone) => Some(
            zone.parse::<chrono_tz::Tz>()
                .map(|z| z.name().to_owned())
                .map_err(|_| ("timezone", format!("`{zone}` is not an IANA time zone")))?,
        ),
    };
    let manager = text(record.manager_external_id.as_ref());
    if manager.as_deref() == Some(key) {
        return Err((
            "managerExternalId",
            "an employee cannot be their own manager".to_owned(),
        ));
    }
    Ok(Candidate {
        index: 0,
        email: email.to_owned(),
        given_name,
        family_name,
        display_name,
        job_title,
        department: text(record.department_external_id.as_ref()),
        manager,
        seniority_level: record.seniority_level,
        generation,
        timezone,
        status: record.status,
    })
}

/// The row an accepted record leaves in the database.
fn employee_row(
    key: &str,
    candidate: Candidate,
    current: Option<&employee::Model>,
    ids: &HashMap<&str, Uuid>,
    department_ids: &HashMap<String, Uuid>,
    now: DateTime<Utc>,
) -> employee::Model {
    let display_name = candidate.display_name.unwrap_or_else(|| {
        let full = [&candidate.given_name, &candidate.family_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        if full.is_empty() {
            candidate
                .email
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        } else {
            full
        }
    });
    let status = match (candidate.status, current) {
        // A leaver's status changes with the termination and its effects.
        (Some(EmployeeStatus::Terminated), Some(current)) => current.status,
        (Some(status), _) => status,
        (None, Some(current)) => current.status,
        (None, None) => EmployeeStatus::Active,
    };
    employee::Model {
        id: ids.get(key).copied().unwrap_or_default(),
        external_id: key.to_owned(),
        email: candidate.email,
        given_name: candidate.given_name,
        family_name: candidate.family_name,
        display_name,
        job_title: candidate.job_title,
        department_id: candidate
            .department
            .as_ref()
            .and_then(|d| department_ids.get(d))
            .copied(),
        manager_id: candidate
            .manager
            .as_deref()
            .and_then(|m| ids.get(m))
            .copied(),
        generation: candidate
            .generation
            .or(current.map(|c| c.generation))
            .unwrap_or(Generation::Unknown),
        seniority_level: candidate.seniority_level,
        timezone: candidate
            .timezone
            .or_else(|| current.map(|c| c.timezone.clone()))
            .unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned()),
        status,
        availability_version: current.map_or(0, |c| c.availability_version),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
        // A leaver keeps the date they left (set where they are
        // terminated; one created already gone left now, as far as Tandem
        // knows); a rehire has none.
        terminated_at: (status == EmployeeStatus::Terminated)
            .then(|| current.and_then(|c| c.terminated_at).unwrap_or(now)),
        erased_at: current.and_then(|c| c.erased_at),
    }
}

/// Whether a planned row changes nothing stored (timestamps aside). Every
/// field is compared (the whole model, its stamp set aside), so a column
/// added later is compared too.
fn same_employee(row: &mut employee::Model, current: &employee::Model) -> bool {
    let stamp = std::mem::replace(&mut row.updated_at, current.updated_at);
    let same = *row == *current;
    row.updated_at = stamp;
    same
}

/// The generation of a birth year (Baby boomer 1946–1964, X 1965–1980, Y
/// 1981–1996, Z 1997–2012); None when the year cannot be an employee's.
pub fn generation_of(year: i32, this_year: i32) -> Option<Generation> {
    if !(1920..=this_year - 14).contains(&year) {
        return None;
    }
    Some(match year {
        1946..=1964 => Generation::BabyBoomer,
        1965..=1980 => Generation::GenX,
        1981..=1996 => Generation::GenY,
        1997..=2012 => Generation::GenZ,
        _ => Generation::Unknown,
    })
}

/// A plausible mailbox: one `@`, a non-empty local part of at most 64
/// characters, a dotted domain, no spaces or control characters.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Keys of a loop a row's message names: a loop of thousands is named by
/// its first few and its length, so each message stays short.
const LOOP_KEYS_SHOWN: usize = 10;

/// Why a reference cannot stand.
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    /// The target is neither stored nor accepted in this input.
    Unknown(String),
    /// Following the references comes back to the row: the first keys met
    /// from the row on, and how many records the loop has.
    Loop { keys: Vec<String>, length: usize },
}

impl Problem {
    fn describe(&self, what: &str) -> String {
        match self {
            Problem::Unknown(target) => {
                format!("{what} `{target}` is neither stored nor valid in this input")
            }
            Problem::Loop { keys, length } => {
                let first = keys.first().map_or("", String::as_str);
                let shown = keys.join(" → ");
                if *length > keys.len() {
                    format!(
                        "{what} chain loops: {shown} → … → {first} ({length} records on the loop)"
                    )
                } else {
                    format!("{what} chain loops: {shown} → {first}")
                }
            }
        }
    }
}

/// The input rows (`links`: key → referenced key) whose reference cannot
/// stand once the input is applied over `stored`: an unknown target, or a
/// loop. A rejected row keeps its stored reference, which can strand or
/// loop other rows; one walk settles all of that (see [`Graph`]).
fn unresolvable(
    links: &[(&str, Option<&str>)],
    stored: &[(&str, Option<&str>)],
) -> Vec<(String, Problem)> {
    let mut graph = Graph::new(links, stored);
    for node in 0..graph.keys.len() {
        if graph.input[node].is_some() && graph.colour[node] == Colour::White {
            graph.walk(node);
        }
    }
    graph
        .rejected
        .into_iter()
        .map(|(node, problem)| (graph.keys[node].to_owned(), problem))
        .collect()
}

/// Where a walk stands with a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Colour {
    /// Not met yet (or met on a loop since broken: walked again if reached).
    White,
    /// On the current walk's path.
    Grey,
    /// Settled: its reference stands for good, or it no longer exists.
    Black,
}

/// The references of one kind of record (managers, or parent departments):
/// the input's rows over the stored records, one node per key.
///
/// Its walk applies two rules until neither applies: a row whose target
/// does not exist is rejected (Unknown), and the rows on a loop are all
/// rejected (Loop); a rejected row then falls back to its stored reference,
/// or no longer exists if it is not stored. A rule that applies keeps
/// applying until it is applied (a row on a loop has a target, a stranded
/// row is on no loop, and loops are disjoint: each node has one
/// reference), so the outcome does not depend on the order the rules apply
/// in, and the walk applies them as it meets them. Each node is entered
/// once; only a stored node on a loop just broken is entered again, if a
/// walk reaches it (its loop's rows now follow their stored references).
struct Graph<'a> {
    /// Each node's key.
    keys: Vec<&'a str>,
    /// Each node's reference in the input while its row stands (None: no
    /// such row, or rejected).
    input: Vec<Option<Option<usize>>>,
    /// Each node's stored reference (None: not stored).
    stored: Vec<Option<Option<usize>>>,
    colour: Vec<Colour>,
    /// Each grey node's place on the path.
    position: Vec<usize>,
    /// Rejected rows, as rejected.
    rejected: Vec<(usize, Problem)>,
}

impl<'a> Graph<'a> {
    fn new(links: &[(&'a str, Option<&'a str>)], stored: &[(&'a str, Option<&'a str>)]) -> Self {
        let mut graph = Graph {
            keys: Vec::new(),
            input: Vec::new(),
            stored: Vec::new(),
            colour: Vec::new(),
            position: Vec::new(),
            rejected: Vec::new(),
        };
        let mut index = HashMap::new();
        for (key, target) in stored {
            let node = graph.node(&mut index, key);
            graph.stored[node] = Some(target.map(|t| graph.node(&mut index, t)));
        }
        for (key, target) in links {
            let node = graph.node(&mut index, key);
            graph.input[node] = Some(target.map(|t| graph.node(&mut index, t)));
        }
        graph
    }

    /// The node of `key`, added if new.
    fn node(&mut self, index: &mut HashMap<&'a str, usize>, key: &'a str) -> usize {
        *index.entry(key).or_insert_with(|| {
            let node = self.keys.len();
            self.keys.push(key);
            self.input.push(None);
            self.stored.push(None);
            self.colour.push(Colour::White);
            self.position.push(0);
            node
        })
    }

    /// Whether the node is a record once the run applies (so far).
    fn exists(&self, node: usize) -> bool {
        self.input[node].is_some() || self.stored[node].is_some()
    }

    /// The node's reference as things stand: its row's, else the stored one.
    fn next(&self, node: usize) -> Option<usize> {
        self.input[node].or(self.stored[node]).flatten()
    }

    /// Rejects `node`'s row: from now on it follows its stored reference.
    fn reject(&mut self, node: usize, problem: Problem) {
        self.input[node] = None;
        self.rejected.push((node, problem));
    }

    /// Follows references from `start`, settling every node on the way.
    fn walk(&mut self, start: usize) {
        let mut path = Vec::new();
        self.enter(start, &mut path);
        while let Some(&top) = path.last() {
            match self.next(top) {
                None => self.settle(&mut path),
                Some(target) if !self.exists(target) => self.strand(top, target, &mut path),
                Some(target) => match self.colour[target] {
                    Colour::White => self.enter(target, &mut path),
                    Colour::Grey => self.break_loop(target, &mut path),
                    Colour::Black => self.settle(&mut path),
                },
            }
        }
    }

    /// Puts `node` on the path.
    fn enter(&mut self, node: usize, path: &mut Vec<usize>) {
        self.colour[node] = Colour::Grey;
        self.position[node] = path.len();
        path.push(node);
    }

    /// The path ends on a root or a settled node: all of it stands.
    fn settle(&mut self, path: &mut Vec<usize>) {
        for node in path.drain(..) {
            self.colour[node] = Colour::Black;
        }
    }

    /// `top` references `target`, which does not exist: `top` is rejected,
    /// and its referrers on the path next if it is not stored either.
    fn strand(&mut self, top: usize, target: usize, path: &mut Vec<usize>) {
        if self.input[top].is_none() {
            // A stored reference to a missing record: not this run's doing.
            self.settle(path);
            return;
        }
        self.reject(top, Problem::Unknown(self.keys[target].to_owned()));
        if !self.exists(top) {
            self.colour[top] = Colour::Black;
            path.pop();
        }
    }

    /// The path comes back to `target`: the rows on the loop are rejected,
    /// and the loop's nodes walked again from their new references.
    fn break_loop(&mut self, target: usize, path: &mut Vec<usize>) {
        let cycle = path.split_off(self.position[target]);
        let rows: Vec<usize> = (0..cycle.len())
            .filter(|&at| self.input[cycle[at]].is_some())
            .collect();
        if rows.is_empty() {
            // A loop of stored records alone: not this run's to refuse.
            path.extend_from_slice(&cycle);
            self.settle(path);
            return;
        }
        for at in rows {
            let problem = Problem::Loop {
                keys: self.loop_keys(&cycle, at),
                length: cycle.len(),
            };
            self.reject(cycle[at], problem);
        }
        for node in cycle {
            self.colour[node] = if self.exists(node) {
                Colour::White
            } else {
                Colour::Black
            };
        }
    }

    /// The first keys of `cycle` from its node `at` on.
    fn loop_keys(&self, cycle: &[usize], at: usize) -> Vec<String> {
        let (before, from) = cycle.split_at(at);
        from.iter()
            .chain(before)
            .take(LOOP_KEYS_SHOWN)
            .map(|&node| self.keys[node].to_owned())
            .collect()
    }
}

/// `rows` ordered so each row comes after the row it references, when that
/// row is in the list too (the database checks references per statement);
/// rows of the same depth keep their order (the sort is stable). Each row's
/// depth is computed once.
fn parents_first<T>(
    rows: Vec<T>,
    id: impl Fn(&T) -> Uuid,
    parent: impl Fn(&T) -> Option<Uuid>,
) -> Vec<T> {
    let position: HashMap<Uuid, usize> = rows.iter().enumerate().map(|(i, r)| (id(r), i)).collect();
    let parent_of: Vec<Option<usize>> = rows
        .iter()
        .map(|r| parent(r).and_then(|p| position.get(&p).copied()))
        .collect();
    // The positions are sorted, not the rows: each row then moves once.
    let mut order: Vec<(usize, usize)> = depths(&parent_of)
        .into_iter()
        .enumerate()
        .map(|(at, depth)| (depth, at))
        .collect();
    order.sort_by_key(|&(depth, _)| depth);
    let mut slots: Vec<Option<T>> = rows.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, at)| slots.get_mut(at).and_then(Option::take))
        .collect()
}

/// Splits employees ordered managers-first ([`Plan::employees`]) into
/// waves: no row's manager is in its own wave or a later one. The rows of a
/// wave may then be written by several transactions at once (none waits for
/// another's manager), each wave once those before it are committed.
pub fn waves(rows: &[employee::Model]) -> Vec<&[employee::Model]> {
    let mut waves = Vec::new();
    let mut in_wave: HashSet<Uuid> = HashSet::new();
    let mut rest = rows;
    let mut taken: usize = 0;
    for row in rows {
        if row.manager_id.is_some_and(|m| in_wave.contains(&m)) {
            // Always within `rest`; were it not, the rows would stay in
            // the last wave rather than be lost.
            if let Some((wave, after)) = rest.split_at_checked(taken) {
                waves.push(wave);
                rest = after;
            }
            taken = 0;
            in_wave.clear();
        }
        in_wave.insert(row.id);
        taken = taken.saturating_add(1);
    }
    if !rest.is_empty() {
        waves.push(rest);
    }
    waves
}

/// One transaction or several side by side, writing a part of
/// [`Plan::employees`] on PostgreSQL ([`write_steps`]).
#[derive(Debug)]
pub enum Step<'a> {
    /// Rows of several small waves, managers first, in one transaction
    /// (references are checked at the end of the statement).
    Alone(&'a [employee::Model]),
    /// One large wave, split into transactions that may run at once.
    SideBySide(Vec<&'a [employee::Model]>),
}

/// The steps writing `rows` (managers first) in order: a wave of at least
/// `side_by_side_from` rows is split into `writers` transactions of at
/// most `per_transaction` rows each (more when it is larger), run side by
/// side; the smaller waves between two large ones are written in order in
/// sequential transactions of at most `per_transaction` rows, so a long
/// chain of managers costs a transaction per `per_transaction` rows, not
/// one per level.
pub fn write_steps(
    rows: &[employee::Model],
    per_transaction: usize,
    side_by_side_from: usize,
    writers: usize,
) -> Vec<Step<'_>> {
    let per_transaction = per_transaction.max(1);
    let mut steps = Vec::new();
    // Not written yet: `rest`, whose first `small` rows are small waves.
    let mut rest = rows;
    let mut small: usize = 0;
    for wave in waves(rows) {
        if wave.len() < side_by_side_from {
            small = small.saturating_add(wave.len());
            continue;
        }
        let Some((before, from_wave)) = rest.split_at_checked(small) else {
            break;
        };
        let Some((large, after)) = from_wave.split_at_checked(wave.len()) else {
            break;
        };
        steps.extend(before.chunks(per_transaction).map(Step::Alone));
        let size = large.len().div_ceil(writers.max(1)).min(per_transaction);
        steps.push(Step::SideBySide(large.chunks(size.max(1)).collect()));
        rest = after;
        small = 0;
    }
    // The small waves after the last large one (and, were the waves ever
    // not to tile the rows, everything left: never a row dropped).
    steps.extend(rest.chunks(per_transaction).map(Step::Alone));
    steps
}

/// How many ancestors each node has in `parent_of` (a node on a loop, which
/// planning never leaves, counts from where its walk met the loop).
fn depths(parent_of: &[Option<usize>]) -> Vec<usize> {
    let mut depth: Vec<Option<usize>> = vec![None; parent_of.len()];
    let mut met = vec![false; parent_of.len()];
    let mut chain = Vec::new();
    for start in 0..parent_of.len() {
        let mut at = Some(start);
        let mut base = 0;
        while let Some(node) = at {
            if let Some(known) = depth[node] {
                base = known.saturating_add(1);
                break;
            }
            if met[node] {
                break;
            }
            met[node] = true;
            chain.push(node);
            at = parent_of[node];
        }
        for (offset, node) in chain.drain(..).rev().enumerate() {
            depth[node] = Some(base.saturating_add(offset));
        }
    }
    depth.into_iter().map(Option::unwrap_or_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn person(key: &str, manager: Option<&str>) -> EmployeeRecord {
        EmployeeRecord {
            external_id: key.to_owned(),
            email: format!("{}@corp.example", key.to_lowercase()),
            manager_external_id: manager.map(str::to_owned),
            ..Default::default()
        }
    }

    fn stored_person(key: &str, manager: Option<Uuid>) -> employee::Model {
        employee::Model {
            id: Uuid::now_v7(),
            external_id: key.to_owned(),
            email: format!("{}@corp.example", key.to_lowercase()),
            given_name: None,
            family_name: None,
            display_name: key.to_lowercase(),
            job_title: None,
            department_id: None,
            manager_id: manager,
            generation: Generation::Unknown,
            seniority_level: None,
            timezone: "UTC".to_owned(),
            status: EmployeeStatus::Active,
            availability_version: 0,
            created_at: at(),
            updated_at: at(),
            terminated_at: None,
            erased_at: None,
        }
    }

    fn rejected(plan: &Plan) -> Vec<(&str, Option<&str>)> {
        plan.errors
            .iter()
            .map(|e| (e.external_id.as_str(), e.field))
            .collect()
    }

    #[test]
    fn a_wave_never_holds_a_row_and_its_manager() {
        // Two trees: A manages B and C, B manages D; E manages F.
        let input = [
            person("D", Some("B")),
            person("C", Some("A")),
            person("B", Some("A")),
            person("F", Some("E")),
            person("A", None),
            person("E", None),
        ];
        let plan = plan(&[], &input, false, &Stored::default(), at());
        let keys: Vec<Vec<&str>> = waves(&plan.employees)
            .iter()
            .map(|wave| wave.iter().map(|e| e.external_id.as_str()).collect())
            .collect();
        // Managers first; within a level, input order.
        assert_eq!(keys, vec![vec!["A", "E"], vec!["C", "B", "F"], vec!["D"]]);
    }

    /// The sizes of each step's transactions.
    fn step_sizes(rows: &[employee::Model], side_by_side_from: usize) -> Vec<Vec<usize>> {
        write_steps(rows, 5, side_by_side_from, 2)
            .iter()
            .map(|step| match step {
                Step::Alone(rows) => vec![rows.len()],
                Step::SideBySide(parts) => parts.iter().map(|p| p.len()).collect(),
            })
            .collect()
    }

    #[test]
    fn a_long_chain_of_managers_shares_transactions() {
        let chain: Vec<EmployeeRecord> = (0..12)
            .map(|i| {
                person(
                    &format!("E{i:02}"),
                    (i > 0).then(|| format!("E{:02}", i - 1)).as_deref(),
                )
            })
            .collect();
        let plan = plan(&[], &chain, false, &Stored::default(), at());
        assert_eq!(waves(&plan.employees).len(), 12);
        assert_eq!(
            step_sizes(&plan.employees, 4),
            vec![vec![5], vec![5], vec![2]]
        );
    }

    /// One boss, two managers, then 9 reports of the first manager and 3
    /// of the second: waves of 1, 2 and 12 rows.
    fn two_teams() -> Vec<EmployeeRecord> {
        let mut company = vec![
            person("BOSS", None),
            person("M1", Some("BOSS")),
            person("M2", Some("BOSS")),
        ];
        company.extend((0..9).map(|i| person(&format!("R1-{i}"), Some("M1"))));
        company.extend((0..3).map(|i| person(&format!("R2-{i}"), Some("M2"))));
        company
    }

    #[test]
    fn a_large_wave_is_split_between_the_writers_and_small_ones_go_before_it() {
        let plan = plan(&[], &two_teams(), false, &Stored::default(), at());
        assert_eq!(
            step_sizes(&plan.employees, 4),
            vec![vec![3], vec![5, 5, 2]],
            "the 12 are split in transactions of at most 5, side by side"
        );
        assert_eq!(
            step_sizes(&plan.employees, 100),
            vec![vec![5], vec![5], vec![5]]
        );
        let written: usize = write_steps(&plan.employees, 5, 4, 2)
            .iter()
            .map(|step| match step {
                Step::Alone(rows) => rows.len(),
                Step::SideBySide(parts) => parts.iter().map(|p| p.len()).sum(),
            })
            .sum();
        assert_eq!(written, 15);
    }

    #[test]
    fn every_row_is_written_once_after_its_manager_whatever_the_thresholds() {
        let plan = plan(&[], &two_teams(), false, &Stored::default(), at());
        for (per_transaction, side_by_side_from, writers) in [
            (5, 12, 2),
            (5, 13, 2),
            (0, 0, 0),
            (1, 1, 1),
            (100, 2, 3),
            (5, 1, 0),
        ] {
            let mut written: HashSet<Uuid> = HashSet::new();
            for step in write_steps(&plan.employees, per_transaction, side_by_side_from, writers) {
                let parts = match step {
                    Step::Alone(rows) => vec![rows],
                    Step::SideBySide(parts) => parts,
                };
                // Side by side, a part sees only what earlier steps committed.
                let before = written.clone();
                for row in parts.iter().flat_map(|part| part.iter()) {
                    let manager_ready = row.manager_id.is_none_or(|m| before.contains(&m))
                        || parts.len() == 1
                            && parts[0].iter().any(|r| Some(r.id) == row.manager_id);
                    assert!(manager_ready, "{} before its manager", row.external_id);
                    assert!(written.insert(row.id), "{} written twice", row.external_id);
                }
            }
            assert_eq!(
                written.len(),
                15,
                "{per_transaction} {side_by_side_from} {writers}"
            );
        }
        assert!(write_steps(&[], 5, 2, 2).is_empty());
    }

    #[test]
    fn rows_whose_managers_are_stored_make_one_wave() {
        let boss = stored_person("BOSS", None);
        let stored = Stored {
            employees: vec![boss.clone()],
            ..Stored::default()
        };
        let input: Vec<EmployeeRecord> = (0..5)
            .map(|i| person(&format!("E{i}"), Some("BOSS")))
            .chain([person("BOSS", None)])
            .collect();
        let plan = plan(&[], &input, false, &stored, at());
        assert_eq!(plan.created, 5);
        assert_eq!(waves(&plan.employees).len(), 1);
        assert!(waves(&[]).is_empty());
    }

    #[test]
    fn a_manager_may_come_later_in_the_input_and_is_written_first() {
        let input = [person("E2", Some("E1")), person("E1", None)];
        let plan = plan(&[], &input, false, &Stored::default(), at());
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        assert_eq!(plan.created, 2);
        assert_eq!(plan.employees[0].external_id, "E1");
        assert_eq!(plan.employees[1].manager_id, Some(plan.employees[0].id));
    }

    #[test]
    fn a_manager_loop_rejects_the_rows_on_it_and_only_them() {
        let input = [
            person("A", Some("B")),
            person("B", Some("A")),
            person("C", Some("A")),
            person("D", None),
        ];
        let plan = plan(&[], &input, false, &Stored::default(), at());
        let mut errors = rejected(&plan);
        errors.sort();
        assert_eq!(
            errors,
            vec![
                ("A", Some("managerExternalId")),
                ("B", Some("managerExternalId")),
                ("C", Some("managerExternalId")),
            ],
            "C's manager was rejected and is not stored"
        );
        assert!(
            plan.errors[0].message.contains("A → B → A"),
            "{:?}",
            plan.errors
        );
        assert_eq!(plan.created, 1);
    }

    #[test]
    fn a_loop_through_a_stored_employee_is_found() {
        let boss = stored_person("BOSS", None);
        let mid = stored_person("MID", Some(boss.id));
        let stored = Stored {
            departments: Vec::new(),
            employees: vec![boss, mid],
            erased: HashMap::new(),
        };
        let plan = plan(&[], &[person("BOSS", Some("MID"))], false, &stored, at());
        assert_eq!(rejected(&plan), vec![("BOSS", Some("managerExternalId"))]);
    }

    #[test]
    fn duplicates_inside_the_input_reject_every_copy() {
        let mut twin = person("A", None);
        twin.email = "other@corp.example".to_owned();
        let mut same_mail = person("C", None);
        same_mail.email = "B@Corp.Example".to_owned();
        let input = [person("A", None), twin, person("B", None), same_mail];
        let plan = plan(&[], &input, false, &Stored::default(), at());
        assert_eq!(
            rejected(&plan),
            vec![
                ("A", Some("externalId")),
                ("A", Some("externalId")),
                ("B", Some("email")),
                ("C", Some("email")),
            ]
        );
    }

    #[test]
    fn an_erased_identity_is_refused_with_the_date_and_another_id_is_welcome() {
        let erased_at = at();
        let stored = Stored {
            departments: Vec::new(),
            employees: Vec::new(),
            erased: HashMap::from([(crate::domain::erasure::identity_hash("GONE"), erased_at)]),
        };
        let plan = plan(
            &[],
            &[person("GONE", None), person("NEW", None)],
            false,
            &stored,
            at(),
        );
        assert_eq!(rejected(&plan), vec![("GONE", Some("externalId"))]);
        assert!(
            plan.errors[0]
                .message
                .starts_with(&format!("erased on {}", erased_at.format("%Y-%m-%d")))
        );
        assert_eq!(plan.created, 1);
    }

    fn holder_stored() -> Stored {
        Stored {
            departments: Vec::new(),
            employees: vec![stored_person("OWNER", None)],
            erased: HashMap::new(),
        }
    }

    /// A row of `key` with the stored OWNER's email.
    fn with_owners_email(key: &str) -> EmployeeRecord {
        EmployeeRecord {
            email: "Owner@Corp.Example".to_owned(),
            ..person(key, None)
        }
    }

    #[test]
    fn a_shared_email_stays_with_the_row_of_its_stored_holder() {
        let owner = EmployeeRecord {
            job_title: Some("Head of people".to_owned()),
            ..person("OWNER", None)
        };
        let input = [with_owners_email("INTRUDER"), owner];
        let plan = plan(&[], &input, false, &holder_stored(), at());
        assert_eq!(rejected(&plan), vec![("INTRUDER", Some("email"))]);
        assert_eq!(
            plan.errors[0].message,
            "email `owner@corp.example` belongs to another employee"
        );
        assert_eq!(plan.updated, 1);
        assert_eq!(plan.employees[0].external_id, "OWNER");
        assert_eq!(
            plan.employees[0].job_title.as_deref(),
            Some("Head of people")
        );
    }

    #[test]
    fn a_shared_email_its_holder_does_not_send_rejects_every_copy() {
        let input = [with_owners_email("A"), with_owners_email("B")];
        let plan = plan(&[], &input, false, &holder_stored(), at());
        assert_eq!(
            rejected(&plan),
            vec![("A", Some("email")), ("B", Some("email"))]
        );
        assert!(
            plan.errors[0]
                .message
                .contains("appears in several records")
        );
    }

    #[test]
    fn a_shared_email_its_holder_sends_twice_rejects_every_copy() {
        let input = [
            person("OWNER", None),
            with_owners_email("OWNER"),
            with_owners_email("INTRUDER"),
        ];
        let plan = plan(&[], &input, false, &holder_stored(), at());
        assert_eq!(
            rejected(&plan),
            vec![
                ("OWNER", Some("externalId")),
                ("OWNER", Some("externalId")),
                ("INTRUDER", Some("email")),
            ]
        );
        assert!(
            plan.errors[2]
                .message
                .contains("appears in several records")
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(EmployeeRecord, &str)> = vec![
            (
                EmployeeRecord {
                    email: "not-an-email".into(),
                    ..person("X", None)
                },
                "email",
            ),
            (
                EmployeeRecord {
                    seniority_level: Some(13),
                    ..person("X", None)
                },
                "seniorityLevel",
            ),
            (
                EmployeeRecord {
                    birth_year: Some(2020),
                    ..person("X", None)
                },
                "birthYear",
            ),
            (
                EmployeeRecord {
                    timezone: Some("Mars/Base".into()),
                    ..person("X", None)
                },
                "timezone",
            ),
            (
                EmployeeRecord {
                    department_external_id: Some("NOPE".into()),
                    ..person("X", None)
                },
                "departmentExternalId",
            ),
            (person("X", Some("GHOST")), "managerExternalId"),
            (person("X", Some("X")), "managerExternalId"),
            (
                EmployeeRecord {
                    external_id: " ".into(),
                    ..person("X", None)
                },
                "externalId",
            ),
        ];
        for (record, field) in cases {
            let plan = plan(&[], &[record], false, &Stored::default(), at());
            assert_eq!(plan.errors.len(), 1, "{field}: {:?}", plan.errors);
            assert_eq!(plan.errors[0].field, Some(field));
            assert_eq!(plan.created, 0);
        }
    }

    #[test]
    fn an_unchanged_record_writes_nothing() {
        let stored = Stored {
            departments: Vec::new(),
            employees: vec![stored_person("A", None)],
            erased: HashMap::new(),
        };
        let plan = plan(&[], &[person("A", None)], false, &stored, at());
        assert_eq!((plan.unchanged, plan.updated, plan.created), (1, 0, 0));
        assert!(plan.employees.is_empty());
    }

    #[test]
    fn omitted_zone_status_and_birth_year_keep_what_is_stored() {
        let mut current = stored_person("A", None);
        current.timezone = "Asia/Kolkata".to_owned();
        current.status = EmployeeStatus::OnLeave;
        current.generation = Generation::GenZ;
        let stored = Stored {
            departments: Vec::new(),
            employees: vec![current],
            erased: HashMap::new(),
        };
        let plan = plan(&[], &[person("A", None)], false, &stored, at());
        assert_eq!(plan.unchanged, 1, "{plan:?}");
    }

    #[test]
    fn a_snapshot_terminates_the_active_employees_it_omits() {
        let mut gone = stored_person("GONE", None);
        gone.status = EmployeeStatus::Terminated;
        let stored = Stored {
            departments: Vec::new(),
            employees: vec![stored_person("A", None), stored_person("B", None), gone],
            erased: HashMap::new(),
        };
        let mut invalid = person("B", None);
        invalid.email = "broken".to_owned();
        let plan = plan(&[], &[person("A", None), invalid], true, &stored, at());
        assert_eq!(plan.absent, 0, "a rejected row is still present: {plan:?}");
        let plan_without_b = super::plan(&[], &[person("A", None)], true, &stored, at());
        assert_eq!(
            (plan_without_b.absent, plan_without_b.active_before),
            (1, 2)
        );
        assert_eq!(plan_without_b.terminations, vec![stored.employees[1].id]);
    }

    #[test]
    fn departments_resolve_parents_in_any_order_and_refuse_loops() {
        let department = |key: &str, parent: Option<&str>| DepartmentRecord {
            external_id: key.to_owned(),
            name: format!("Dept {key}"),
            parent_external_id: parent.map(str::to_owned),
        };
        let input = [
            department("CHILD", Some("ROOT")),
            department("ROOT", None),
            department("L1", Some("L2")),
            department("L2", Some("L1")),
        ];
        let plan = plan(&input, &[], false, &Stored::default(), at());
        assert_eq!(plan.created, 2);
        assert_eq!(plan.departments[0].external_id, "ROOT");
        let mut errors = rejected(&plan);
        errors.sort();
        assert_eq!(
            errors,
            vec![
                ("L1", Some("parentExternalId")),
                ("L2", Some("parentExternalId"))
            ]
        );
    }

    #[test]
    fn generations_follow_the_design_bands() {
        assert_eq!(generation_of(1946, 2026), Some(Generation::BabyBoomer));
        assert_eq!(generation_of(1980, 2026), Some(Generation::GenX));
        assert_eq!(generation_of(1981, 2026), Some(Generation::GenY));
        assert_eq!(generation_of(2012, 2026), Some(Generation::GenZ));
        assert_eq!(generation_of(1930, 2026), Some(Generation::Unknown));
        assert_eq!(generation_of(2013, 2026), None, "a 13-year-old employee");
        assert_eq!(generation_of(1900, 2026), None);
    }

    /// `n` employees, each managed by the next; the last one by `last`.
    fn chain(n: usize, last: Option<&str>) -> Vec<EmployeeRecord> {
        (0..n)
            .map(|i| EmployeeRecord {
                manager_external_id: if i + 1 < n {
                    Some(format!("E{:06}", i + 1))
                } else {
                    last.map(str::to_owned)
                },
                ..person(&format!("E{i:06}"), None)
            })
            .collect()
    }

    #[test]
    fn a_loop_of_100_000_employees_rejects_every_row_with_a_short_message() {
        let plan = plan(
            &[],
            &chain(100_000, Some("E000000")),
            false,
            &Stored::default(),
            at(),
        );
        assert_eq!((plan.errors.len(), plan.created), (100_000, 0));
        for (row, error) in plan.errors.iter().enumerate() {
            assert_eq!(error.row_index, row);
            assert_eq!(error.field, Some("managerExternalId"));
            let own = format!("manager chain loops: {} → ", error.external_id);
            assert!(error.message.starts_with(&own), "{}", error.message);
            assert!(error.message.len() < 300, "{}", error.message);
        }
        assert_eq!(
            plan.errors[99_999].message,
            "manager chain loops: E099999 → E000000 → E000001 → E000002 → E000003 → E000004 → \
             E000005 → E000006 → E000007 → E000008 → … → E099999 (100000 records on the loop)"
        );
    }

    #[test]
    fn a_chain_of_100_000_to_an_unknown_manager_rejects_every_row_on_it() {
        let input = chain(100_000, Some("GHOST"));
        let plan = plan(&[], &input, false, &Stored::default(), at());
        assert_eq!((plan.errors.len(), plan.created), (100_000, 0));
        assert_eq!(
            plan.errors[99_999].message,
            "manager `GHOST` is neither stored nor valid in this input"
        );
        assert_eq!(
            plan.errors[0].message,
            "manager `E000001` is neither stored nor valid in this input"
        );
    }

    #[test]
    fn a_chain_of_100_000_is_planned_managers_first() {
        let plan = plan(&[], &chain(100_000, None), false, &Stored::default(), at());
        assert!(plan.errors.is_empty(), "{:?}", plan.errors.first());
        assert_eq!(plan.created, 100_000);
        assert_eq!(plan.employees[0].external_id, "E099999");
        let mut written = HashSet::new();
        for row in &plan.employees {
            if let Some(manager) = row.manager_id {
                assert!(
                    written.contains(&manager),
                    "{} before its manager",
                    row.external_id
                );
            }
            written.insert(row.id);
        }
    }

    #[test]
    fn a_rejected_row_falls_back_to_its_stored_manager_which_may_close_a_loop() {
        let w = stored_person("W", None);
        let z = stored_person("Z", Some(w.id));
        let stored = Stored {
            departments: Vec::new(),
            employees: vec![w, z],
            erased: HashMap::new(),
        };
        let input = [person("Z", Some("GHOST")), person("W", Some("Z"))];
        let plan = plan(&[], &input, false, &stored, at());
        let messages: Vec<(&str, &str)> = plan
            .errors
            .iter()
            .map(|e| (e.external_id.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            vec![
                (
                    "Z",
                    "manager `GHOST` is neither stored nor valid in this input"
                ),
                ("W", "manager chain loops: W → Z → W"),
            ]
        );
    }

    /// The rules as first written: reject the unknown targets, else every
    /// row on a loop, and again until nothing more is rejected.
    fn fixpoint(
        links: &[(&str, Option<&str>)],
        stored: &[(&str, Option<&str>)],
    ) -> Vec<(String, String)> {
        let stored: HashMap<&str, Option<&str>> = stored.iter().copied().collect();
        let mut live: HashMap<&str, Option<&str>> = links.iter().copied().collect();
        let mut rejected = Vec::new();
        loop {
            let mut newly: Vec<(&str, Problem)> = live
                .iter()
                .filter_map(|(&key, &target)| {
                    let target = target?;
                    (!live.contains_key(target) && !stored.contains_key(target))
                        .then(|| (key, Problem::Unknown(target.to_owned())))
                })
                .collect();
            if newly.is_empty() {
                newly = fixpoint_loops(&live, &stored);
            }
            if newly.is_empty() {
                rejected.sort();
                return rejected;
            }
            for (key, problem) in newly {
                live.remove(key);
                rejected.push((key.to_owned(), problem.describe("manager")));
            }
        }
    }

    /// The rows of `live` on a loop (input rows follow their reference,
    /// others the stored one), each once.
    fn fixpoint_loops<'a>(
        live: &HashMap<&'a str, Option<&'a str>>,
        stored: &HashMap<&'a str, Option<&'a str>>,
    ) -> Vec<(&'a str, Problem)> {
        let next = |key: &str| match live.get(key) {
            Some(target) => *target,
            None => stored.get(key).copied().flatten(),
        };
        let mut found = Vec::new();
        let mut reported = HashSet::new();
        for &start in live.keys() {
            let mut path: Vec<&str> = Vec::new();
            let mut at = Some(start);
            while let Some(key) = at {
                if let Some(from) = path.iter().position(|k| *k == key) {
                    let cycle = &path[from..];
                    for (i, member) in cycle.iter().enumerate() {
                        if live.contains_key(member) && reported.insert(*member) {
                            let keys = cycle[i..].iter().chain(&cycle[..i]);
                            let keys = keys.take(LOOP_KEYS_SHOWN).map(|k| (*k).to_owned());
                            let length = cycle.len();
                            found.push((
                                *member,
                                Problem::Loop {
                                    keys: keys.collect(),
                                    length,
                                },
                            ));
                        }
                    }
                    break;
                }
                path.push(key);
                at = next(key);
            }
        }
        found
    }

    mod walk_agrees_with_the_fixpoint {
        use super::*;
        use proptest::prelude::*;

        const KEYS: [&str; 10] = ["K0", "K1", "K2", "K3", "K4", "K5", "K6", "K7", "GHOST", ""];

        /// A reference: one of the 8 keys, GHOST (never a record), or none.
        fn reference(at: usize) -> Option<&'static str> {
            KEYS.get(at).copied().filter(|k| !k.is_empty())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3_000))]
            #[test]
            fn on_small_companies(
                inputs in prop::collection::vec(prop::option::of(0..10_usize), 8),
                held in prop::collection::vec(prop::option::of(0..10_usize), 8),
            ) {
                // Key i is an input row if inputs[i] is some, stored if held[i] is.
                let stored_keys: HashSet<&str> = (0..8).filter(|&i| held[i].is_some()).map(|i| KEYS[i]).collect();
                let links: Vec<(&str, Option<&str>)> = (0..8)
                    .filter_map(|i| inputs[i].map(|r| (KEYS[i], reference(r))))
                    .collect();
                let stored: Vec<(&str, Option<&str>)> = (0..8)
                    .filter_map(|i| held[i].map(|r| (KEYS[i], reference(r).filter(|k| stored_keys.contains(k)))))
                    .collect();
                let mut walked: Vec<(String, String)> = unresolvable(&links, &stored)
                    .into_iter()
                    .map(|(key, problem)| (key, problem.describe("manager")))
                    .collect();
                walked.sort();
                prop_assert_eq!(walked, fixpoint(&links, &stored));
            }
        }
    }
}
