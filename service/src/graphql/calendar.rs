//! Availability: weekly slots, unavailabilities, free time and common slots.

use super::scalars::DateTime;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Upload};
use entity::{unavailability, weekly_slot};
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use crate::domain::access::Area;
use crate::domain::availability::Interval;
use crate::domain::calendar::{self, Imported, SlotText};
use crate::domain::calendar_import::MAX_CALENDAR_BYTES;
use crate::domain::feeds;
use crate::error::AppError;

/// Days of the week.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl From<Weekday> for chrono::Weekday {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => chrono::Weekday::Mon,
            Weekday::Tuesday => chrono::Weekday::Tue,
            Weekday::Wednesday => chrono::Weekday::Wed,
            Weekday::Thursday => chrono::Weekday::Thu,
            Weekday::Friday => chrono::Weekday::Fri,
            Weekday::Saturday => chrono::Weekday::Sat,
            Weekday::Sunday => chrono::Weekday::Sun,
        }
    }
}

impl Weekday {
    /// The weekday stored as 0 = Monday … 6 = Sunday.
    fn from_number(number: i32) -> Self {
        const DAYS: [Weekday; 7] = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ];
        DAYS[number.clamp(0, 6) as usize]
    }
}

/// A free interval.
#[derive(SimpleObject)]
pub struct TimeSlot {
    starts_at: DateTime,
    ends_at: DateTime,
}

impl From<Interval> for TimeSlot {
    fn from(interval: Interval) -> Self {
        Self {
            starts_at: interval.start.into(),
            ends_at: interval.end.into(),
        }
    }
}

/// A recurring weekly slot.
pub struct WeeklySlot(pub weekly_slot::Model);

#[Object]
impl WeeklySlot {
    async fn weekday(&self) -> Weekday {
        Weekday::from_number(self.0.weekday)
    }
    /// HH:MM in the employee's time zone
    async fn start(&self) -> String {
        calendar::format_hhmm(self.0.start_minute)
    }
    async fn end(&self) -> String {
        calendar::format_hhmm(self.0.end_minute)
    }
}

/// A weekly slot as sent.
#[derive(InputObject)]
pub struct WeeklySlotInput {
    weekday: Weekday,
    start: String,
    end: String,
}

/// A period someone cannot meet.
pub struct Unavailability(pub unavailability::Model);

#[Object]
impl Unavailability {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn starts_at(&self) -> DateTime {
        self.0.starts_at.into()
    }
    async fn ends_at(&self) -> DateTime {
        self.0.ends_at.into()
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

/// What an iCalendar import stored.
pub struct UnavailabilityImport(pub Imported);

#[Object]
impl UnavailabilityImport {
    /// The unavailabilities created, in time order.
    async fn imported(&self) -> Vec<Unavailability> {
        self.0.created.iter().cloned().map(Unavailability).collect()
    }
    /// Busy blocks already stored with the same times (left as they were).
    async fn already_there(&self) -> i32 {
        i32::try_from(self.0.already_there).unwrap_or(i32::MAX)
    }
    /// Start of the window read.
    async fn from(&self) -> DateTime {
        self.0.window.start.into()
    }
    /// End of the window read (92 days after `from`).
    async fn to(&self) -> DateTime {
        self.0.window.end.into()
    }
}

/// The text of an uploaded calendar: at most one byte past the domain's
/// limit is read (so the domain can say it is too large), and it must be
/// UTF-8.
fn calendar_text(ctx: &Context<'_>, upload: &Upload) -> async_graphql::Result<String> {
    use std::io::Read as _;
    let file = upload
        .value(ctx)
        .map_err(|_| AppError::bad_input("calendar", "no calendar file was uploaded"))
        .gql()?;
    let mut bytes = Vec::new();
    file.into_read()
        .take(MAX_CALENDAR_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| AppError::bad_input("calendar", "the calendar file could not be read"))
        .gql()?;
    String::from_utf8(bytes)
        .map_err(|_| AppError::bad_input("calendar", "the calendar is not UTF-8 text"))
        .gql()
}

/// Query fields about availability.
#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// Free intervals of one employee (default: the caller).
    #[graphql(
        guard = "AreaGuard(Area::People)",
        complexity = "super::limits::cost::AVAILABILITY + child_complexity"
    )]
    async fn availability(
        &self,
        ctx: &Context<'_>,
        employee_id: Option<Uuid>,
        from: DateTime,
        to: DateTime,
    ) -> async_graphql::Result<Vec<TimeSlot>> {
        let window = calendar::window(from.0, to.0).gql()?;
        let free =
            calendar::availability_of(ctx.db()?, ctx.cache()?, ctx.caller()?, employee_id, window)
                .await
                .gql()?;
        Ok(free.into_iter().map(TimeSlot::from).collect())
    }

    /// The caller's weekly pattern.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn my_weekly_availability(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<WeeklySlot>> {
        Ok(calendar::my_weekly(ctx.db()?, ctx.caller()?)
            .await
            .gql()?
            .into_iter()
            .map(WeeklySlot)
            .collect())
    }
}

/// Mutations of the caller's availability.
#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Replaces the caller's weekly pattern and time zone.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn set_weekly_availability(
        &self,
        ctx: &Context<'_>,
        timezone: String,
        slots: Vec<WeeklySlotInput>,
    ) -> async_graphql::Result<Vec<WeeklySlot>> {
        let slots = slots
            .into_iter()
            .map(|s| SlotText {
                weekday: s.weekday.into(),
                start: s.start,
                end: s.end,
            })
            .collect();
        let saved = calendar::set_weekly(ctx.db()?, ctx.caller()?, &timezone, slots)
            .await
            .gql()?;
        Ok(saved.into_iter().map(WeeklySlot).collect())
    }

    /// Adds a period the caller cannot meet — or, with `onBehalfOf`, a
    /// principal who delegated their agenda to the caller.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn add_unavailability(
        &self,
        ctx: &Context<'_>,
        starts_at: DateTime,
        ends_at: DateTime,
        reason: Option<String>,
        on_behalf_of: Option<Uuid>,
    ) -> async_graphql::Result<Unavailability> {
        let created = calendar::add_unavailability(
            ctx.db()?,
            &ctx.actor()?,
            on_behalf_of,
            starts_at.0,
            ends_at.0,
            reason,
        )
        .await
        .gql()?;
        Ok(Unavailability(created))
    }

    /// Imports an iCalendar file (an Outlook, Google or Apple export, or a
    /// VFREEBUSY) as the caller's unavailabilities — or, with `onBehalfOf`,
    /// a principal's: every busy event over 92 days from `from` (default
    /// now), repeating ones expanded, one upload (GraphQL multipart request)
    /// of at most 1 MiB. Only times are kept, never titles.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn import_unavailability(
        &self,
        ctx: &Context<'_>,
        calendar: Upload,
        from: Option<DateTime>,
        reason: Option<String>,
        on_behalf_of: Option<Uuid>,
    ) -> async_graphql::Result<UnavailabilityImport> {
        let text = calendar_text(ctx, &calendar)?;
        let imported = calendar::import_unavailability(
            ctx.db()?,
            &ctx.actor()?,
            on_behalf_of,
            text,
            from.map(|f| f.0),
            reason,
        )
        .await
        .gql()?;
        Ok(UnavailabilityImport(imported))
    }

    /// A new secret iCalendar feed URL of the caller's sessions; the previous one stops working.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn rotate_calendar_feed(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let token = feeds::rotate(ctx.db()?, &ctx.actor()?).await.gql()?;
        Ok(token.url(ctx.public_base_url()?))
    }

    /// Removes one of the caller's unavailabilities (or, with
    /// `onBehalfOf`, their principal's).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn remove_unavailability(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        on_behalf_of: Option<Uuid>,
    ) -> async_graphql::Result<Unavailability> {
        Ok(Unavailability(
            calendar::remove_unavailability(ctx.db()?, &ctx.actor()?, on_behalf_of, id)
                .await
                .gql()?,
        ))
    }
}
