//! A local OTLP/HTTP trace receiver: decodes the protobuf export requests an OpenTelemetry
//! exporter sends to `/v1/traces`, for tests to assert on the spans.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

/// One span as received.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The span's name.
    pub name: String,
    /// Trace id, 32 hex digits.
    pub trace_id: String,
    /// Span id, 16 hex digits.
    pub span_id: String,
    /// Parent span id, 16 hex digits; empty for a root span.
    pub parent_span_id: String,
    /// `SPAN_KIND_*` number (2 server, 3 client).
    pub kind: i32,
    /// Attributes, every value as text.
    pub attributes: HashMap<String, String>,
    /// `STATUS_CODE_*` number (2 error).
    pub status_code: i32,
    /// The resource's `service.name`.
    pub service_name: String,
    /// Start and end, nanoseconds since the epoch.
    pub start_end_ns: (u64, u64),
}

impl ReceivedSpan {
    /// An attribute's value, or "" when absent.
    pub fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
}

/// Receives OTLP/HTTP protobuf traces on a loopback port, on a thread of its own (so it
/// outlives any one test's runtime).
pub struct OtlpReceiver {
    /// The traces URL to export to (`http://127.0.0.1:<port>/v1/traces`).
    pub traces_url: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

impl OtlpReceiver {
    /// Binds a free port and serves in the background until the process ends.
    pub fn start() -> Self {
        let spans: Arc<Mutex<Vec<ReceivedSpan>>> = Arc::default();
        let sink = spans.clone();
        let (bound, addr) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    let sink = sink.clone();
                    App::new().route(
                        "/v1/traces",
                        web::post().to(move |body: web::Bytes| {
                            let sink = sink.clone();
                            async move { receive(&sink, &body) }
                        }),
                    )
                })
                .workers(1)
                .disable_signals()
                .bind("127.0.0.1:0")
                .expect("OTLP receiver binds");
                bound.send(server.addrs()[0]).expect("address sent");
                server.run().await.expect("OTLP receiver runs");
            });
        });
        let addr = addr.recv().expect("OTLP receiver started");
        Self {
            traces_url: format!("http://{addr}/v1/traces"),
            spans,
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) until `done` holds for the spans received; returns them.
    pub fn wait_for(&self, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans();
            if done(&spans) || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn receive(sink: &Mutex<Vec<ReceivedSpan>>, body: &[u8]) -> HttpResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return HttpResponse::BadRequest().body("not an ExportTraceServiceRequest");
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                received.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    kind: span.kind,
                    attributes: attributes(&span.attributes),
                    status_code: span.status.map_or(0, |s| s.code),
                    service_name: service_name.clone(),
                    start_end_ns: (span.start_time_unix_nano, span.end_time_unix_nano),
                });
            }
        }
    }
    sink.lock().unwrap().extend(received);
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .body(ExportTraceServiceResponse::default().encode_to_vec())
}

fn attributes(pairs: &[KeyValue]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}
