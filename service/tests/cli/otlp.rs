//! Traces (and metrics) as a collector receives them: the binary exports to
//! a real OTLP receiver started here — OTLP/HTTP (HTTP/1.1, protobuf body)
//! or OTLP/gRPC (HTTP/2, length-prefixed protobuf, `grpc-status` trailer) —
//! and the test decodes every export request with the OpenTelemetry
//! protobuf definitions. Metrics go to the same collector on their own path.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

use super::{Command, http, tandem, wait_for_port};

/// One export request as it arrived.
struct Export {
    path: String,
    content_type: String,
    /// The protobuf message (for gRPC, without the 5-byte frame prefix).
    message: Vec<u8>,
}

impl Export {
    /// Whether it carries spans (the rest are metrics).
    fn is_trace(&self) -> bool {
        self.path == "/v1/traces" || self.path.contains("TraceService")
    }
}

type Exports = Arc<Mutex<Vec<Export>>>;

/// A server certificate for 127.0.0.1 signed by a throw-away CA (made with
/// the `openssl` command), and the CA's PEM file for `SSL_CERT_FILE`.
struct TestTls {
    ca_file: std::path::PathBuf,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TestTls {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("the openssl command");
            assert!(status.success(), "openssl {args:?}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=Tandem test CA",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req", "-new"],
                &ec[..],
                &[
                    "-keyout",
                    "leaf.key",
                    "-out",
                    "leaf.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            path("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ]);
        use rustls::pki_types::pem::PemObject as _;
        let chain = rustls::pki_types::CertificateDer::pem_file_iter(path("leaf.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        Self {
            ca_file: path("ca.pem"),
            chain,
            key_file: path("leaf.key"),
            _dir: dir,
        }
    }

    /// A server configuration offering `alpn` (h2 for gRPC, http/1.1 else).
    fn server(&self, alpn: &[u8]) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject as _;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&self.key_file).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .unwrap();
        config.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(config)
    }
}

/// An OTLP/HTTP receiver (over TLS when given a configuration): answers
/// every POST with 200 and keeps its body.
fn http_receiver(tls: Option<Arc<rustls::ServerConfig>>) -> (u16, Exports) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let exports = Exports::default();
    let sink = exports.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (sink, tls) = (sink.clone(), tls.clone());
            std::thread::spawn(move || match tls {
                None => serve_http_connection(stream, &sink),
                Some(config) => {
                    let connection = rustls::ServerConnection::new(config).unwrap();
                    serve_http_connection(rustls::StreamOwned::new(connection, stream), &sink);
                }
            });
        }
    });
    (port, exports)
}

fn serve_http_connection(stream: impl std::io::Read + std::io::Write, sink: &Exports) {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let (mut length, mut content_type) = (0usize, String::new());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or_default();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "content-type" => value.trim().clone_into(&mut content_type),
                _ => {}
            }
        }
        let mut message = vec![0; length];
        if reader.read_exact(&mut message).is_err() {
            return;
        }
        sink.lock().unwrap().push(Export {
            path,
            content_type,
            message,
        });
        let writer = reader.get_mut();
        let answered = writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
            .and_then(|()| writer.flush());
        if answered.is_err() {
            return;
        }
    }
}

/// An OTLP/gRPC receiver over HTTP/2 (cleartext, or TLS when given a
/// configuration): keeps each unary call's message and answers an empty
/// `ExportTraceServiceResponse`, status OK.
fn grpc_receiver(tls: Option<Arc<rustls::ServerConfig>>) -> (u16, Exports) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let exports = Exports::default();
    let sink = exports.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((socket, _)) = listener.accept().await {
                let sink = sink.clone();
                match &tls {
                    None => drop(tokio::spawn(serve_grpc_connection(socket, sink))),
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                        tokio::spawn(async move {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                serve_grpc_connection(stream, sink).await;
                            }
                        });
                    }
                }
            }
        });
    });
    (port, exports)
}

async fn serve_grpc_connection<S>(socket: S, sink: Exports)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut connection) = h2::server::handshake(socket).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let sink = sink.clone();
        tokio::spawn(async move {
            let path = request.uri().path().to_owned();
            let content_type = request
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut body = request.into_body();
            let mut frame = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                frame.extend_from_slice(&chunk);
            }
            // gRPC message framing: uncompressed flag, big-endian length, message.
            assert_eq!(frame.first(), Some(&0), "an uncompressed gRPC message");
            let length = u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize;
            assert_eq!(frame.len(), 5 + length, "one whole gRPC message");
            sink.lock().unwrap().push(Export {
                path,
                content_type,
                message: frame[5..].to_vec(),
            });
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut stream = respond.send_response(response, false).unwrap();
            stream
                .send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), false)
                .unwrap();
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            stream.send_trailers(trailers).unwrap();
        });
    }
}

/// The W3C trace id a caller sends in `traceparent`.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// An employee of the demo company (`serve --demo`), signed in as an admin
/// so that programme sponsors are visible, and no sponsor: the sponsors
/// then come through a DataLoader batch in a task of its own (the caller's
/// row, read at sign-in, would be served without one).
const EMAIL: &str = "bernard.bernard.2@demo.tandem.example";

/// Starts the binary with the `OTEL_*` `settings`, sends one traced GraphQL
/// request, stops it with SIGTERM (which must flush), and answers the token
/// it used and what it logged.
fn serve_one_traced_request(settings: &[(&str, String)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let port = super::free_port();
    let log_path = dir.path().join("tandem.log");
    let token_output = tandem()
        .args(["dev-token", "--email", EMAIL, "--role", "admin"])
        .env("DATABASE_URL", &url)
        .env("AUTH_DEV_MODE", "true")
        .output()
        .unwrap();
    let token = String::from_utf8(token_output.stdout)
        .unwrap()
        .trim()
        .to_owned();
    let mut command = tandem();
    command
        .args(["serve", "--demo"])
        .env("DATABASE_URL", &url)
        .env("AUTH_DEV_MODE", "true")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .envs(settings.iter().map(|(name, value)| (name, value)))
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_DRAIN_SECS", "0")
        .stderr(std::fs::File::create(&log_path).unwrap());
    let mut server = command.spawn().unwrap();
    wait_for_port(port);
    let body = r#"{"query":"query ListProgrammes { programmes(first: 5) { edges { node { name sponsor { displayName } } } } }","operationName":"ListProgrammes"}"#;
    let response = http(
        port,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\ntraceparent: 00-{TRACE_ID}-00f067aa0ba902b7-01\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("displayName"),
        "sponsors loaded: {response}"
    );
    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful exit: {status:?}");
    (token, std::fs::read_to_string(&log_path).unwrap())
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value: &AnyValue| match &value.value {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| match value.value {
            Some(any_value::Value::IntValue(i)) => Some(i),
            _ => None,
        })
}

/// What an operator looks for in their collector after one traced request.
fn check_exported_trace(exports: &[Export], token: &str) {
    assert!(!exports.is_empty(), "the last spans are flushed on SIGTERM");
    for export in exports {
        let raw = String::from_utf8_lossy(&export.message);
        assert!(!raw.contains(token), "no token in spans");
        assert!(!raw.contains(EMAIL), "no email in spans");
    }
    let spans: Vec<Span> = decoded_spans(exports)
        .into_iter()
        .map(|(resource, span)| {
            assert_eq!(
                string_attribute(&resource.attributes, "service.name"),
                Some("tandem-under-test")
            );
            span
        })
        .collect();
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let http_span = spans
        .iter()
        .find(|s| string_attribute(&s.attributes, "http.route") == Some("/graphql"))
        .expect("the HTTP request span");
    assert_eq!(http_span.name, "POST /graphql");
    assert_eq!(http_span.kind, SpanKind::Server as i32);
    assert_eq!(
        http_span.trace_id, trace_id,
        "the caller's trace is continued"
    );
    assert_eq!(
        string_attribute(&http_span.attributes, "http.request.method"),
        Some("POST")
    );
    assert_eq!(
        int_attribute(&http_span.attributes, "http.response.status_code"),
        Some(200)
    );
    let operation = spans
        .iter()
        .find(|s| s.name == "graphql.operation")
        .expect("the GraphQL operation span");
    assert_eq!(
        string_attribute(&operation.attributes, "graphql.operation.name"),
        Some("ListProgrammes")
    );
    assert_eq!(
        string_attribute(&operation.attributes, "graphql.operation.type"),
        Some("query")
    );
    assert_eq!(operation.trace_id, trace_id);
    assert!(
        spans.iter().any(|s| s.trace_id == trace_id
            && string_attribute(&s.attributes, "db.system") == Some("sqlite")),
        "a span per SQL statement, in the request's trace"
    );
    // The DataLoader's batch runs in a task of its own: its span and its SQL
    // statement must still sit in the request's trace.
    let batch = spans
        .iter()
        .find(|s| s.name == "dataloader.employees")
        .expect("the sponsors' batch load span");
    assert_eq!(
        batch.trace_id, trace_id,
        "the batch load is in the request's trace"
    );
    let statement = spans
        .iter()
        .find(|s| {
            s.parent_span_id == batch.span_id
                && string_attribute(&s.attributes, "db.system") == Some("sqlite")
        })
        .expect("the batch's SQL statement is its child");
    let sql = string_attribute(&statement.attributes, "db.statement").unwrap_or_default();
    assert!(
        sql.starts_with("SELECT") && sql.contains("\"employees\"") && sql.contains('?'),
        "the statement, with placeholders instead of values: {sql}"
    );
}

/// Spans of the whole export, after checking each request decodes.
fn decoded_spans(exports: &[Export]) -> Vec<(Resource, Span)> {
    let mut spans = Vec::new();
    for export in exports.iter().filter(|export| export.is_trace()) {
        let request = ExportTraceServiceRequest::decode(export.message.as_slice())
            .expect("a valid ExportTraceServiceRequest");
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                spans.extend(scope_spans.spans.into_iter().map(|s| (resource.clone(), s)));
            }
        }
    }
    spans
}

#[test]
fn spans_are_exported_with_otlp_http_by_default_and_flushed_on_sigterm() {
    let (receiver_port, exports) = http_receiver(None);
    let (token, _) = serve_one_traced_request(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        ),
        ("OTEL_SERVICE_NAME", "tandem-under-test".into()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=ci".into(),
        ),
    ]);
    let exports = exports.lock().unwrap();
    for export in exports.iter() {
        assert!(
            ["/v1/traces", "/v1/metrics"].contains(&export.path.as_str()),
            "{}",
            export.path
        );
        assert_eq!(export.content_type, "application/x-protobuf");
    }
    check_exported_trace(&exports, &token);
    // The metrics, flushed at the same SIGTERM, name the request served.
    let metrics: Vec<String> = exports
        .iter()
        .filter(|export| export.path == "/v1/metrics")
        .flat_map(|export| {
            ExportMetricsServiceRequest::decode(export.message.as_slice())
                .expect("a valid ExportMetricsServiceRequest")
                .resource_metrics
        })
        .flat_map(|resource| resource.scope_metrics)
        .flat_map(|scope| scope.metrics)
        .map(|metric| metric.name)
        .collect();
    assert!(
        metrics
            .iter()
            .any(|name| name == "http.server.request.duration"),
        "{metrics:?}"
    );
    for (resource, _) in decoded_spans(&exports) {
        assert_eq!(
            string_attribute(&resource.attributes, "deployment.environment.name"),
            Some("ci"),
            "OTEL_RESOURCE_ATTRIBUTES honoured"
        );
    }
}

#[test]
fn spans_are_exported_with_otlp_grpc_when_configured() {
    let (receiver_port, exports) = grpc_receiver(None);
    let (token, _) = serve_one_traced_request(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ("OTEL_SERVICE_NAME", "tandem-under-test".into()),
    ]);
    let exports = exports.lock().unwrap();
    for export in exports.iter() {
        assert!(
            [
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
            ]
            .contains(&export.path.as_str()),
            "{}",
            export.path
        );
        assert!(export.content_type.starts_with("application/grpc"));
    }
    check_exported_trace(&exports, &token);
}

#[test]
fn spans_are_exported_whatever_the_log_level() {
    let (receiver_port, exports) = http_receiver(None);
    let (token, log) = serve_one_traced_request(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        ),
        ("OTEL_SERVICE_NAME", "tandem-under-test".into()),
        ("RUST_LOG", "warn".into()),
    ]);
    assert!(
        !log.contains("\"INFO\""),
        "RUST_LOG=warn writes no INFO line: {log}"
    );
    let exports = exports.lock().unwrap();
    check_exported_trace(&exports, &token);
}

#[test]
fn otel_traces_level_selects_the_exported_spans() {
    let (receiver_port, exports) = http_receiver(None);
    serve_one_traced_request(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        ),
        ("OTEL_TRACES_LEVEL", "error".into()),
    ]);
    let exports = exports.lock().unwrap();
    assert!(
        decoded_spans(&exports).is_empty(),
        "no span is at level ERROR"
    );
}

#[test]
fn the_sampler_variable_is_honoured() {
    let (receiver_port, exports) = http_receiver(None);
    serve_one_traced_request(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        ),
        ("OTEL_TRACES_SAMPLER", "always_off".into()),
    ]);
    let exports = exports.lock().unwrap();
    assert!(
        decoded_spans(&exports).is_empty(),
        "always_off samples nothing"
    );
}

#[test]
fn an_unreachable_collector_is_logged_and_costs_no_request() {
    let closed_port = super::free_port();
    for protocol in ["http/protobuf", "grpc"] {
        // serve_one_traced_request asserts the request's 200 and exit 0.
        let (_, log) = serve_one_traced_request(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{closed_port}"),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.into()),
        ]);
        let failure = log
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|entry| entry["fields"]["name"] == "BatchSpanProcessor.ExportError");
        let failure =
            failure.unwrap_or_else(|| panic!("{protocol}: export failure logged:\n{log}"));
        assert_eq!(failure["level"], "ERROR");
    }
}

#[test]
fn spans_are_exported_over_tls_to_a_collector_the_system_store_trusts() {
    let tls = TestTls::new();
    let ca_file = tls.ca_file.display().to_string();
    for protocol in ["http/protobuf", "grpc"] {
        let (receiver_port, exports) = match protocol {
            "grpc" => grpc_receiver(Some(tls.server(b"h2"))),
            _ => http_receiver(Some(tls.server(b"http/1.1"))),
        };
        let (token, log) = serve_one_traced_request(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("https://127.0.0.1:{receiver_port}"),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.into()),
            ("OTEL_SERVICE_NAME", "tandem-under-test".into()),
            // What an operator does for a collector behind a private CA.
            ("SSL_CERT_FILE", ca_file.clone()),
        ]);
        let exports = exports.lock().unwrap();
        assert!(
            !exports.is_empty(),
            "{protocol} over TLS: nothing arrived\n{log}"
        );
        check_exported_trace(&exports, &token);
    }
}
