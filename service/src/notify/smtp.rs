//! Email over SMTP with lettre: one pooled transport to the relay of
//! `SMTP_URL` (`smtp://` plain or `?tls=required` STARTTLS, `smtps://` TLS),
//! each message plain text + HTML, and an iCalendar part for invitations.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use uuid::Uuid;

use crate::domain::icalendar::{Method, Party};
use crate::domain::notifications::render::{self, Message};

/// The relay and the sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A transport to `url`, sending as `from`; every SMTP command times
    /// out after `timeout`. Nothing connects until the first message.
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| anyhow::anyhow!("SMTP_URL: not an SMTP relay URL (smtp:// or smtps://)"))?
            .timeout(Some(timeout))
            .build();
        Ok(Self { transport, from })
    }

    /// The sender, as invitations name their organiser.
    pub fn sender(&self) -> Party {
        Party {
            email: self.from.email.to_string(),
            name: self.from.name.clone(),
        }
    }

    /// Sends `message` to `to`. The Message-ID is derived from the
    /// notification's id, so a retried message is recognisably the same.
    /// The error says what went wrong without the relay's words, which may
    /// quote the recipient's address.
    pub async fn send(&self, id: Uuid, to: &[Party], message: &Message) -> Result<(), String> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.subject.clone())
            .message_id(Some(format!("<{id}@tandem>")));
        for party in to {
            let address = party
                .email
                .parse()
                .map_err(|_| "the recipient's address is not valid".to_owned())?;
            let name = party.name.as_deref().map(render::one_line);
            builder = builder.to(Mailbox::new(name, address));
        }
        let mut body = MultiPart::alternative()
            .singlepart(SinglePart::plain(message.text.clone()))
            .singlepart(SinglePart::html(message.html.clone()));
        if let Some((method, ics)) = &message.calendar {
            let method = match method {
                Method::Request => "REQUEST",
                Method::Cancel => "CANCEL",
            };
            let kind =
                ContentType::parse(&format!("text/calendar; method={method}; charset=UTF-8"))
                    .map_err(|_| "the calendar part could not be typed".to_owned())?;
            body = body.singlepart(SinglePart::builder().header(kind).body(ics.clone()));
        }
        let email = builder
            .multipart(body)
            .map_err(|_| "the message could not be built".to_owned())?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|err| describe(&err))
    }
}

/// What failed, in words safe for logs and the delivery history.
fn describe(err: &lettre::transport::smtp::Error) -> String {
    match err.status() {
        Some(code) if err.is_permanent() => format!("the relay refused the message ({code})"),
        Some(code) => format!("the relay deferred the message ({code})"),
        None if err.is_timeout() => "the relay did not answer in time".to_owned(),
        None => "the relay could not be reached".to_owned(),
    }
}
