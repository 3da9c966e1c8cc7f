//! The messages: subject, plain text, HTML and, for sessions, an iCalendar
//! invitation (METHOD:REQUEST, updated by a higher SEQUENCE) or cancellation
//! (METHOD:CANCEL), with one UID per session so Outlook and Google Calendar
//! keep one entry. Pure: a message is built from [`Facts`] alone, and
//! [`Facts`] has no field for a private note or a feedback text.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::NotificationKind;

use super::Language;
use crate::domain::icalendar::{Calendar, Event, EventStatus, Method, Party};

/// A session as a message tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    /// The session's id: its calendar UID is `<id>@tandem`, as in the feed.
    pub id: uuid::Uuid,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Calendar version: grows with each move.
    pub sequence: u32,
    /// Whether it takes place by video.
    pub video: bool,
}

/// Everything a message may say.
#[derive(Clone, Debug)]
pub struct Facts {
    /// What happened.
    pub kind: NotificationKind,
    /// The recipient's language.
    pub language: Language,
    /// The recipient's name; None for the programme team.
    pub recipient_name: Option<String>,
    /// Whether the recipient takes part in the pairing (a supervisor or the
    /// programme team follows it).
    pub participant: bool,
    /// The recipient's time zone, for the times in the text.
    pub zone: Tz,
    /// The programme's name.
    pub programme: Option<String>,
    /// The pairing's other participants, by name (all of them for the team
    /// or a supervisor).
    pub others: Vec<String>,
    /// The session told of.
    pub session: Option<SessionFacts>,
    /// For an invitation: the service's sender address, and every
    /// participant's (address, name).
    pub organizer: Option<Party>,
    /// The invitation's attendees.
    pub attendees: Vec<Party>,
    /// The organiser's time zone, which the invitation's times name (the
    /// participant who booked; for a booking by an assistant or an admin,
    /// the senior participant whose diary it is).
    pub organizer_zone: Option<Tz>,
    /// ENROLMENT_DECIDED: whether it was approved.
    pub approved: Option<bool>,
    /// PAIRING_PROPOSED: how many proposals the matcher made.
    pub proposals: Option<i64>,
    /// ENROLMENTS_AWAITING_DECISION: (programme, how many wait).
    pub waiting: Vec<(String, i64)>,
    /// Where to act (the service's public URL).
    pub link: String,
    /// When the message is made (DTSTAMP).
    pub now: DateTime<Utc>,
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (the same words).
    pub html: String,
    /// The iCalendar part and its METHOD, for session invitations and
    /// cancellations.
    pub calendar: Option<(Method, String)>,
}

/// The message `facts` call for.
pub fn render(facts: &Facts) -> Message {
    let (subject, paragraphs) = words(facts);
    let greeting = match (&facts.recipient_name, facts.language) {
        (Some(name), Language::Fr) => format!("Bonjour {name},"),
        (Some(name), Language::En) => format!("Hello {name},"),
        (None, Language::Fr) => "Bonjour,".to_owned(),
        (None, Language::En) => "Hello,".to_owned(),
    };
    let signature = match facts.language {
        Language::Fr => "L'équipe Tandem du programme de mentorat inversé",
        Language::En => "The Tandem reverse-mentoring team",
    };
    let mut lines = vec![greeting];
    lines.extend(paragraphs);
    lines.push(facts.link.clone());
    lines.push(signature.to_owned());
    let text = lines.join("\n\n") + "\n";
    let html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><body>{}</body></html>\n",
        facts.language.tag(),
        lines
            .iter()
            .map(|line| format!("<p>{}</p>", escape_html(line)))
            .collect::<String>()
    );
    Message {
        subject: one_line(&subject),
        text,
        html,
        calendar: calendar_part(facts),
    }
}

fn when(facts: &Facts) -> String {
    match &facts.session {
        Some(session) => {
            let local = session.starts_at.with_timezone(&facts.zone);
            let minutes = (session.ends_at - session.starts_at).num_minutes();
            let how = match (session.video, facts.language) {
                (true, Language::Fr) => "en visio",
                (false, Language::Fr) => "en présentiel",
                (true, Language::En) => "by video",
                (false, Language::En) => "in person",
            };
            format!(
                "{} ({}), {minutes} min, {how}",
                local.format("%Y-%m-%d %H:%M"),
                facts.zone.name()
            )
        }
        None => String::new(),
    }
}

fn with_whom(facts: &Facts) -> String {
    let and = match facts.language {
        Language::Fr => "et",
        Language::En => "and",
    };
    match facts.others.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// Subject and paragraphs of each kind, in each language.
fn words(facts: &Facts) -> (String, Vec<String>) {
    use Language::{En, Fr};
    use NotificationKind as K;
    let programme = facts.programme.clone().unwrap_or_else(|| "Tandem".into());
    let whom = with_whom(facts);
    let when = when(facts);
    let proposals = facts.proposals.unwrap_or(0);
    let one = |s: String| vec![s];
    match (facts.kind, facts.language) {
        (K::PairingProposed, Fr) => (
            format!("{programme} : {proposals} binôme(s) proposé(s) attendent votre décision"),
            one(format!(
                "Le matching a proposé {proposals} binôme(s). Acceptez-les ou refusez-les dans Tandem."
            )),
        ),
        (K::PairingProposed, En) => (
            format!("{programme}: {proposals} proposed pairing(s) await your decision"),
            one(format!(
                "The matcher proposed {proposals} pairing(s). Accept or decline them in Tandem."
            )),
        ),
        (K::PairingStarted | K::PairingEnded, lang) if !facts.participant => {
            followed(facts.kind, &programme, &whom, lang)
        }
        (K::PairingStarted, Fr) => (
            format!("{programme} : votre binôme commence"),
            one(format!(
                "Votre binôme avec {whom} est actif. Proposez une première session dans Tandem."
            )),
        ),
        (K::PairingStarted, En) => (
            format!("{programme}: your pairing starts"),
            one(format!(
                "Your pairing with {whom} is active. Book a first session in Tandem."
            )),
        ),
        (K::PairingEnded, Fr) => (
            format!("{programme} : votre binôme est terminé"),
            one(format!(
                "Votre binôme avec {whom} est terminé. Merci pour votre engagement."
            )),
        ),
        (K::PairingEnded, En) => (
            format!("{programme}: your pairing has ended"),
            one(format!(
                "Your pairing with {whom} has ended. Thank you for taking part."
            )),
        ),
        (K::SessionScheduled, Fr) => (
            format!("{programme} : session de mentorat avec {whom}"),
            one(format!(
                "Une session est prévue le {when}. L'invitation jointe l'ajoute à votre agenda."
            )),
        ),
        (K::SessionScheduled, En) => (
            format!("{programme}: mentoring session with {whom}"),
            one(format!(
                "A session is booked for {when}. The attached invitation adds it to your calendar."
            )),
        ),
        (K::SessionRescheduled, Fr) => (
            format!("{programme} : session déplacée avec {whom}"),
            one(format!(
                "La session a été déplacée au {when}. Votre agenda est mis à jour."
            )),
        ),
        (K::SessionRescheduled, En) => (
            format!("{programme}: session moved, with {whom}"),
            one(format!(
                "The session moved to {when}. Your calendar entry is updated."
            )),
        ),
        (K::SessionCancelled, Fr) => (
            format!("{programme} : session annulée avec {whom}"),
            one(format!("La session du {when} est annulée.")),
        ),
        (K::SessionCancelled, En) => (
            format!("{programme}: session cancelled, with {whom}"),
            one(format!("The session of {when} is cancelled.")),
        ),
        (K::SessionReminder, Fr) => (
            format!("Rappel : session de mentorat avec {whom}"),
            one(format!("Votre session a lieu le {when}.")),
        ),
        (K::SessionReminder, En) => (
            format!("Reminder: mentoring session with {whom}"),
            one(format!("Your session takes place on {when}.")),
        ),
        (K::FeedbackRequested, Fr) => (
            format!("{programme} : comment s'est passée votre session ?"),
            one(format!(
                "Donnez votre avis sur la session du {when} avec {whom} : deux minutes dans Tandem."
            )),
        ),
        (K::FeedbackRequested, En) => (
            format!("{programme}: how did your session go?"),
            one(format!(
                "Please rate the session of {when} with {whom}: two minutes in Tandem."
            )),
        ),
        (K::CadenceOverdue, Fr) => (
            format!("{programme} : et si vous fixiez votre prochaine session ?"),
            one(format!(
                "Aucune session n'est prévue avec {whom} depuis un moment. Tandem propose des créneaux communs."
            )),
        ),
        (K::CadenceOverdue, En) => (
            format!("{programme}: time to book your next session"),
            one(format!(
                "No session with {whom} for a while. Tandem suggests times that suit you both."
            )),
        ),
        (K::PairingAtRisk, Fr) => (
            format!("{programme} : un binôme a besoin d'attention"),
            one(format!(
                "Le binôme {whom} est à risque : sessions trop espacées ou mal évaluées."
            )),
        ),
        (K::PairingAtRisk, En) => (
            format!("{programme}: a pairing needs attention"),
            one(format!(
                "The pairing {whom} is at risk: sessions too far apart or poorly rated."
            )),
        ),
        (K::EnrolmentDecided, lang) => decision(&programme, facts.approved.unwrap_or(false), lang),
        (K::EnrolmentsAwaitingDecision, lang) => digest(&facts.waiting, lang),
    }
}

/// A pairing's start or end, told to someone who follows it (its mentor's
/// supervisor) rather than takes part in it.
fn followed(
    kind: NotificationKind,
    programme: &str,
    pair: &str,
    language: Language,
) -> (String, Vec<String>) {
    let started = kind == NotificationKind::PairingStarted;
    match (started, language) {
        (true, Language::Fr) => (
            format!("{programme} : un binôme que vous suivez commence"),
            vec![format!("Le binôme {pair} est actif.")],
        ),
        (false, Language::Fr) => (
            format!("{programme} : un binôme que vous suivez est terminé"),
            vec![format!("Le binôme {pair} est terminé.")],
        ),
        (true, Language::En) => (
            format!("{programme}: a pairing you follow starts"),
            vec![format!("The pairing {pair} is active.")],
        ),
        (false, Language::En) => (
            format!("{programme}: a pairing you follow has ended"),
            vec![format!("The pairing {pair} has ended.")],
        ),
    }
}

fn decision(programme: &str, approved: bool, language: Language) -> (String, Vec<String>) {
    match (approved, language) {
        (true, Language::Fr) => (
            format!("{programme} : votre inscription est acceptée"),
            vec!["Bienvenue dans le programme. Vous serez prévenu(e) dès que votre binôme sera formé.".into()],
        ),
        (false, Language::Fr) => (
            format!("{programme} : votre inscription n'a pas été retenue"),
            vec!["Votre inscription n'a pas été retenue pour cette vague. L'équipe RH reste à votre écoute.".into()],
        ),
        (true, Language::En) => (
            format!("{programme}: your enrolment is approved"),
            vec!["Welcome to the programme. You will hear from us as soon as your pairing is formed.".into()],
        ),
        (false, Language::En) => (
            format!("{programme}: your enrolment was not retained"),
            vec!["Your enrolment was not retained for this wave. The HR team is happy to talk it over.".into()],
        ),
    }
}

fn digest(waiting: &[(String, i64)], language: Language) -> (String, Vec<String>) {
    let total: i64 = waiting.iter().map(|(_, n)| *n).sum();
    let lines: Vec<String> = waiting
        .iter()
        .map(|(programme, n)| format!("{programme}: {n}"))
        .collect();
    match language {
        Language::Fr => (
            format!("Tandem : {total} inscription(s) attendent une décision"),
            vec![
                "Des inscriptions attendent votre décision depuis plusieurs jours :".into(),
                lines.join("\n"),
            ],
        ),
        Language::En => (
            format!("Tandem: {total} enrolment(s) await a decision"),
            vec![
                "Enrolments have been waiting for your decision for several days:".into(),
                lines.join("\n"),
            ],
        ),
    }
}

/// REQUEST for a booked or moved session, CANCEL for a cancelled one.
fn calendar_part(facts: &Facts) -> Option<(Method, String)> {
    let (method, status) = match facts.kind {
        NotificationKind::SessionScheduled | NotificationKind::SessionRescheduled => {
            (Method::Request, EventStatus::Confirmed)
        }
        NotificationKind::SessionCancelled => (Method::Cancel, EventStatus::Cancelled),
        _ => return None,
    };
    let session = facts.session.as_ref()?;
    let programme = facts.programme.clone().unwrap_or_else(|| "Tandem".into());
    let summary = match facts.language {
        Language::Fr => format!("{programme} : session de mentorat"),
        Language::En => format!("{programme}: mentoring session"),
    };
    let calendar = Calendar {
        prodid: "-//Tandem//Mentoring sessions//EN".to_owned(),
        method: Some(method),
        name: None,
        refresh_minutes: None,
        events: vec![Event {
            uid: format!("{}@tandem", session.id),
            stamp: facts.now,
            start: session.starts_at,
            end: session.ends_at,
            sequence: session.sequence,
            status,
            summary,
            last_modified: facts.now,
            organizer: facts.organizer.clone(),
            attendees: facts.attendees.clone(),
            zone: facts.organizer_zone,
        }],
    };
    Some((method, calendar.render()))
}

/// `text` with every control character (CR, LF, tab …) turned into a
/// space: what a header (a subject, a display name) may hold, so no name
/// from the HRIS can start another header.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `<`, `>`, `&`, `"` and `'` as entities.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: NotificationKind, language: Language) -> Facts {
        let start = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Facts {
            kind,
            language,
            recipient_name: Some("Ada <Admin>".into()),
            participant: true,
            zone: chrono_tz::Europe::Paris,
            programme: Some("Digital 2027".into()),
            others: vec!["Bo".into(), "Cy".into()],
            session: Some(SessionFacts {
                id: uuid::Uuid::nil(),
                starts_at: start,
                ends_at: start + chrono::Duration::minutes(60),
                sequence: 2,
                video: true,
            }),
            organizer: Some(Party {
                email: "tandem@example.com".into(),
                name: Some("Tandem".into()),
            }),
            attendees: vec![Party {
                email: "ada@example.com".into(),
                name: Some("Ada".into()),
            }],
            organizer_zone: Some(chrono_tz::Europe::Paris),
            approved: Some(true),
            proposals: Some(3),
            waiting: vec![("Digital 2027".into(), 4)],
            link: "https://tandem.example.com/".into(),
            now: start,
        }
    }

    #[test]
    fn every_kind_has_words_in_both_languages() {
        use sea_orm::Iterable as _;
        for kind in NotificationKind::iter() {
            let fr = render(&facts(kind, Language::Fr));
            let en = render(&facts(kind, Language::En));
            assert_ne!(fr.subject, en.subject, "{kind:?}");
            assert!(fr.text.starts_with("Bonjour"), "{kind:?}");
            assert!(en.text.starts_with("Hello"), "{kind:?}");
        }
    }

    #[test]
    fn a_session_message_tells_the_time_in_the_recipients_zone() {
        let message = render(&facts(NotificationKind::SessionReminder, Language::En));
        // 1_800_000_000 is 2027-01-15 08:00 UTC, 09:00 in Paris.
        assert!(
            message.text.contains("2027-01-15 09:00 (Europe/Paris)"),
            "{}",
            message.text
        );
        assert!(message.subject.contains("Bo and Cy"));
    }

    #[test]
    fn invitations_request_and_cancellations_cancel_the_same_uid() {
        let booked = render(&facts(NotificationKind::SessionScheduled, Language::Fr));
        let (method, ics) = booked.calendar.unwrap();
        assert_eq!(method, Method::Request);
        assert!(ics.contains("METHOD:REQUEST\r\n"));
        assert!(ics.contains("UID:00000000-0000-0000-0000-000000000000@tandem\r\n"));
        assert!(ics.contains("SEQUENCE:2\r\n"));
        assert!(ics.contains("ORGANIZER;CN=Tandem:mailto:tandem@example.com\r\n"));
        let cancelled = render(&facts(NotificationKind::SessionCancelled, Language::Fr));
        let (method, ics) = cancelled.calendar.unwrap();
        assert_eq!(method, Method::Cancel);
        assert!(ics.contains("STATUS:CANCELLED\r\n"));
        assert!(ics.contains("UID:00000000-0000-0000-0000-000000000000@tandem\r\n"));
    }

    #[test]
    fn only_session_bookings_moves_and_cancellations_carry_a_calendar() {
        use sea_orm::Iterable as _;
        for kind in NotificationKind::iter() {
            let has = render(&facts(kind, Language::En)).calendar.is_some();
            let expected = matches!(
                kind,
                NotificationKind::SessionScheduled
                    | NotificationKind::SessionRescheduled
                    | NotificationKind::SessionCancelled
            );
            assert_eq!(has, expected, "{kind:?}");
        }
    }

    #[test]
    fn a_name_with_line_breaks_cannot_add_a_header() {
        let mut injected = facts(NotificationKind::SessionReminder, Language::En);
        injected.others = vec!["Bo\r\nBcc: attacker@example.com".into()];
        let message = render(&injected);
        assert!(!message.subject.contains('\r') && !message.subject.contains('\n'));
        assert!(message.subject.contains("Bo  Bcc"));
    }

    #[test]
    fn names_are_escaped_in_html() {
        let message = render(&facts(NotificationKind::PairingStarted, Language::En));
        assert!(message.html.contains("Hello Ada &lt;Admin&gt;,"));
        assert!(!message.html.contains("<Admin>"));
    }
}
