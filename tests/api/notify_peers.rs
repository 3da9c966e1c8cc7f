//! The notifier's real peers, over TCP on loopback: an SMTP server that
//! speaks the protocol (and can refuse), a webhook receiver that checks
//! the Standard Webhooks signature (and can fail or hang), and a reader of
//! delivered mail built on Python's `email` package and `icalendar` (Python
//! run with text on its stdin, [`python_with_stdin`], which other tests use
//! for their own readers).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the SMTP server accepted.
#[derive(Clone, Debug)]
pub struct Mail {
    /// RCPT TO addresses.
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-unstuffed).
    pub raw: String,
}

/// An SMTP server on 127.0.0.1.
#[derive(Clone)]
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    refuse_next: Arc<AtomicUsize>,
    refuse_all: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl SmtpSink {
    /// Starts listening.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            port: listener.local_addr().unwrap().port(),
            mails: Arc::default(),
            refuse_next: Arc::default(),
            refuse_all: Arc::default(),
            refused: Arc::default(),
        };
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = serving.clone();
                tokio::spawn(async move { session.converse(stream).await });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next `n` messages get `554` at the end of DATA.
    pub fn refuse_next(&self, n: usize) {
        self.refuse_next.store(n, Ordering::SeqCst);
    }

    /// Every message from now on gets `554` (or, false, none does).
    pub fn refuse_all(&self, refuse: bool) {
        self.refuse_all.store(refuse, Ordering::SeqCst);
    }

    /// How many messages were refused.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Every message accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Forgets the messages accepted so far.
    pub fn clear(&self) {
        self.mails.lock().unwrap().clear();
    }

    async fn converse(&self, stream: TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let _ = write.write_all(b"220 sink.test ESMTP\r\n").await;
        let mut to: Vec<String> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                "HELO" | "NOOP" => b"250 ok\r\n",
                "MAIL" => {
                    to.clear();
                    b"250 ok\r\n"
                }
                "RCPT" => {
                    let address = line
                        .split_once('<')
                        .and_then(|(_, rest)| rest.split_once('>'))
                        .map(|(address, _)| address.to_owned())
                        .unwrap_or_default();
                    to.push(address);
                    b"250 ok\r\n"
                }
                "RSET" => {
                    to.clear();
                    b"250 ok\r\n"
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                }
                "DATA" => {
                    let _ = write.write_all(b"354 go ahead\r\n").await;
                    let mut raw = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        raw.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                    if self.refuse_all.load(Ordering::SeqCst)
                        || self
                            .refuse_next
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                    {
                        self.refused.fetch_add(1, Ordering::SeqCst);
                        b"554 5.7.1 refused by the test relay\r\n"
                    } else {
                        self.mails.lock().unwrap().push(Mail {
                            to: std::mem::take(&mut to),
                            raw,
                        });
                        b"250 queued\r\n"
                    }
                }
                _ => b"502 not implemented\r\n",
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}

/// One webhook POST received.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// Whether `webhook-signature` is the HMAC of `id.timestamp.body`.
    pub signature_valid: bool,
    /// The JSON body.
    pub body: Value,
}

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 204.
    Accept,
    /// 500.
    Fail,
    /// Reads the request and never answers.
    Hang,
}

/// A webhook endpoint on 127.0.0.1 that verifies signatures with `key`.
#[derive(Clone)]
pub struct WebhookReceiver {
    /// Its port.
    pub port: u16,
    key: Vec<u8>,
    answer: Arc<Mutex<Answer>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    requests: Arc<AtomicUsize>,
}

/// The secret the receiver and the service share.
pub const WEBHOOK_SECRET: &str = "whsec_dGFuZGVtLXRlc3Qtd2ViaG9vay1rZXktMzJieXRlcyE=";

impl WebhookReceiver {
    /// Starts listening; it verifies with [`WEBHOOK_SECRET`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let key = STANDARD
            .decode(WEBHOOK_SECRET.strip_prefix("whsec_").unwrap())
            .unwrap();
        let receiver = Self {
            port: listener.local_addr().unwrap().port(),
            key,
            answer: Arc::new(Mutex::new(Answer::Accept)),
            deliveries: Arc::default(),
            requests: Arc::default(),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = serving.clone();
                tokio::spawn(async move { session.serve(stream).await });
            }
        });
        receiver
    }

    /// `http://127.0.0.1:<port>/hooks/tandem`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/tandem", self.port)
    }

    /// How it answers from now on.
    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Requests read so far, answered or not.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Every POST accepted (204) so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    async fn serve(&self, stream: TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0; length.min(1 << 20)];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        let answer = *self.answer.lock().unwrap();
        match answer {
            Answer::Hang => {
                // Hold the connection open without a word until the client gives up.
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest).await;
                return;
            }
            Answer::Fail => {
                let _ = write
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                return;
            }
            Answer::Accept => {}
        }
        let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.key);
        let mut signed = format!("{id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(&body);
        let signature_valid = header("webhook-signature")
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| STANDARD.decode(s).ok())
            .any(|tag| hmac::verify(&key, &signed, &tag).is_ok());
        self.deliveries.lock().unwrap().push(Delivery {
            id,
            signature_valid,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let _ = write
            .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
            .await;
    }
}

const READER: &str = r#"
import email, email.policy, json, sys
from datetime import timezone
try:
    import icalendar
except ImportError:
    sys.exit("the notification tests need Python's icalendar: python3 -m pip install icalendar")
def in_utc(prop):
    return prop.dt.astimezone(timezone.utc).isoformat()
def by_vtimezone(prop, cal):
    # The instant as a client without a tz database reads it: from the
    # calendar's own VTIMEZONE, not from the zone's name.
    tzid = prop.params.get("TZID")
    if not tzid:
        return None
    for vtz in cal.walk("VTIMEZONE"):
        if str(vtz["TZID"]) == tzid:
            tz = vtz.to_tz(lookup_tzid=False)
            naive = prop.dt.replace(tzinfo=None)
            local = tz.localize(naive) if hasattr(tz, "localize") else naive.replace(tzinfo=tz)
            return local.astimezone(timezone.utc).isoformat()
    return "no VTIMEZONE for " + tzid
message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = {
    "subject": str(message["Subject"]),
    "from": str(message["From"]),
    "to": str(message["To"]),
    "messageId": str(message["Message-ID"]),
    "text": None, "html": None, "calendar": None,
}
for part in message.walk():
    kind = part.get_content_type()
    if kind == "text/plain":
        out["text"] = part.get_content()
    elif kind == "text/html":
        out["html"] = part.get_content()
    elif kind == "text/calendar":
        raw = part.get_content()
        cal = icalendar.Calendar.from_ical(raw)
        events = list(cal.walk("VEVENT"))
        event = events[0]
        out["calendar"] = {
            "contentMethod": part.get_param("method"),
            "method": str(cal.get("METHOD")),
            "events": len(events),
            "uid": str(event["UID"]),
            "sequence": int(event.get("SEQUENCE", -1)),
            "status": str(event.get("STATUS", "")),
            "start": in_utc(event["DTSTART"]),
            "end": in_utc(event["DTEND"]),
            "tzid": event["DTSTART"].params.get("TZID"),
            "startByVtimezone": by_vtimezone(event["DTSTART"], cal),
            "endByVtimezone": by_vtimezone(event["DTEND"], cal),
            "organizer": str(event.get("ORGANIZER", "")),
            "attendees": sorted(str(a) for a in (event.get("ATTENDEE") if isinstance(event.get("ATTENDEE"), list) else [event.get("ATTENDEE")]) if a),
        }
print(json.dumps(out))
"#;

/// A delivered message as a mail client reads it: decoded headers, the
/// text and HTML bodies, and the calendar part read by `icalendar`.
pub fn read(mail: &Mail) -> Value {
    let output = python_with_stdin(READER, mail.raw.as_bytes());
    assert!(
        output.status.success(),
        "the mail could not be read: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        mail.raw
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Runs a Python script (`python3 -c`) with `input` on its stdin: the
/// output, whatever its status (the caller says what a failure means).
pub fn python_with_stdin(script: &str, input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input)
        .expect("python reads its stdin");
    child.wait_with_output().expect("python3 ends")
}
