//! Logs and traces of a Tollgate process.
//!
//! Logs are text (or JSON) lines filtered by `RUST_LOG`. Traces are off unless an OTLP endpoint
//! is configured with the standard variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/traces`); then every `tracing` span that passes
//! `TOLLGATE_TRACE_FILTER` (default `info`) is exported over OTLP/HTTP protobuf in batches from
//! the SDK's own thread. The SDK reads the rest of the standard variables itself
//! (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`).

use std::collections::HashMap;
use std::fmt;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Target of the spans that are traced but not logged (a request's stages): log lines carry
/// the request's own span, and formatting every stage's fields for them would cost more
/// than the stages themselves. `RUST_LOG` naming this target logs them too.
pub const STAGE_TARGET: &str = "tollgate_stages";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; the fields of the spans a line is in come first.
    Text,
    /// One JSON object per line, with the current span's fields under `span`.
    Json,
}

/// What a process logs and where it sends traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `service.name` of the traces unless `OTEL_SERVICE_NAME` says otherwise.
    pub service_name: String,
    /// Whether `OTEL_SERVICE_NAME` is set (the SDK then names the service itself).
    pub service_name_from_env: bool,
    /// Filter of log lines (`RUST_LOG` syntax).
    pub log_filter: String,
    /// Text or JSON lines (`TOLLGATE_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Colour the text lines.
    pub ansi: bool,
    /// The OTLP/HTTP traces URL (`.../v1/traces`); `None`: no traces.
    pub traces_endpoint: Option<String>,
    /// Filter of the spans exported (`TOLLGATE_TRACE_FILTER`, `RUST_LOG` syntax).
    pub trace_filter: String,
}

/// A telemetry variable that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryError {
    /// The variable (or the part that failed).
    pub key: &'static str,
    /// Why.
    pub reason: String,
}

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

impl std::error::Error for TelemetryError {}

fn error(key: &'static str, reason: impl Into<String>) -> TelemetryError {
    TelemetryError {
        key,
        reason: reason.into(),
    }
}

impl TelemetryConfig {
    /// Logs only (text, `info`), no traces: for tests and tools.
    pub fn logs_only(service_name: &str) -> Self {
        Self {
            service_name: service_name.to_owned(),
            service_name_from_env: false,
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            ansi: false,
            traces_endpoint: None,
            trace_filter: "info".into(),
        }
    }

    /// Reads the configuration from `env` (see the module documentation).
    pub fn from_env(
        service_name: &str,
        env: &HashMap<String, String>,
    ) -> Result<Self, TelemetryError> {
        let var = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let log_format = match var("TOLLGATE_LOG_FORMAT") {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(error(
                    "TOLLGATE_LOG_FORMAT",
                    format!("'{other}' is neither 'text' nor 'json'"),
                ));
            }
        };
        let filter = |key: &'static str| -> Result<String, TelemetryError> {
            let directives = var(key).unwrap_or("info");
            EnvFilter::builder()
                .parse(directives)
                .map_err(|e| error(key, format!("'{directives}' is not a filter: {e}")))?;
            Ok(directives.to_owned())
        };
        let disabled = match var("OTEL_SDK_DISABLED") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(error(
                    "OTEL_SDK_DISABLED",
                    format!("'{other}' is neither 'true' nor 'false'"),
                ));
            }
        };
        let exporter_wanted = match var("OTEL_TRACES_EXPORTER") {
            None | Some("otlp") => true,
            Some("none") => false,
            Some(other) => {
                return Err(error(
                    "OTEL_TRACES_EXPORTER",
                    format!("'{other}' is not supported: use 'otlp' or 'none'"),
                ));
            }
        };
        for key in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = var(key)
                && protocol != "http/protobuf"
            {
                return Err(error(
                    key,
                    format!("'{protocol}' is not supported: Tollgate exports 'http/protobuf'"),
                ));
            }
        }
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(url), _) => Some(checked_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)?),
            (None, Some(base)) => Some(format!(
                "{}/v1/traces",
                checked_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?.trim_end_matches('/')
            )),
            (None, None) => None,
        };
        Ok(Self {
            service_name: service_name.to_owned(),
            service_name_from_env: var("OTEL_SERVICE_NAME").is_some(),
            log_filter: filter("RUST_LOG")?,
            log_format,
            ansi: std::io::IsTerminal::is_terminal(&std::io::stdout()),
            traces_endpoint: endpoint.filter(|_| exporter_wanted && !disabled),
            trace_filter: filter("TOLLGATE_TRACE_FILTER")?,
        })
    }
}

fn checked_url(key: &'static str, url: &str) -> Result<String, TelemetryError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| error(key, format!("'{url}' is not an http:// or https:// URL")))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(error(key, format!("'{url}' names no host")));
    }
    Ok(url.to_owned())
}

/// The installed logging and tracing. Dropping it (or [`Telemetry::shutdown`]) exports the
/// spans still buffered.
#[must_use = "dropping the telemetry stops the trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn traces_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every finished span now (waits up to the export timeout).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(err) = provider.force_flush()
        {
            tracing::warn!(error = %err, "trace export failed");
        }
    }

    /// Exports the buffered spans and stops the exporter.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs logging (and, when configured, the trace exporter) process-wide, logs to stdout.
pub fn init(config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    init_with_writer(config, std::io::stdout)
}

/// [`init`] writing log lines to `writer` (tests capture them).
pub fn init_with_writer<W>(config: &TelemetryConfig, writer: W) -> Result<Telemetry, TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let provider = config
        .traces_endpoint
        .as_deref()
        .map(|endpoint| tracer_provider(config, endpoint))
        .transpose()?;
    let mut layers = vec![log_layer(config, writer)?];
    if let Some(provider) = &provider {
        let filter = EnvFilter::builder()
            .parse(&config.trace_filter)
            .map_err(|e| error("TOLLGATE_TRACE_FILTER", e.to_string()))?;
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("tollgate"))
                .with_threads(false)
                .with_location(false)
                .with_tracked_inactivity(false)
                .with_filter(filter)
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| error("subscriber", e.to_string()))?;
    Ok(Telemetry { provider })
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn log_layer<W>(config: &TelemetryConfig, writer: W) -> Result<BoxedLayer, TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut filter = EnvFilter::builder()
        .parse(&config.log_filter)
        .map_err(|e| error("RUST_LOG", e.to_string()))?;
    if !config.log_filter.contains(STAGE_TARGET) {
        filter = filter.add_directive(
            format!("{STAGE_TARGET}=off")
                .parse()
                .map_err(|e| error("RUST_LOG", format!("{e}")))?,
        );
    }
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    Ok(match config.log_format {
        LogFormat::Text => layer.with_ansi(config.ansi).with_filter(filter).boxed(),
        LogFormat::Json => layer
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    })
}

fn tracer_provider(
    config: &TelemetryConfig,
    endpoint: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    crate::install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| error("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !config.service_name_from_env {
        resource = resource.with_service_name(config.service_name.clone());
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// Makes `span` part of the caller's trace given its W3C `traceparent` (and `tracestate`)
/// headers. Call before the span is first entered; a malformed header starts a new trace.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = W3cHeaders {
        traceparent: Some(traceparent.to_owned()),
        tracestate: tracestate.map(str::to_owned),
    };
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The W3C headers that make a downstream call part of `span`'s trace; empty when the span is
/// not traced (no exporter, or not sampled and not propagated).
pub fn trace_headers(span: &tracing::Span) -> Vec<(&'static str, String)> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut carrier = W3cHeaders::default();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    [
        ("traceparent", carrier.traceparent),
        ("tracestate", carrier.tracestate),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value.filter(|v| !v.is_empty())?)))
    .collect()
}

/// The two headers of W3C Trace Context.
#[derive(Default)]
struct W3cHeaders {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Extractor for W3cHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

impl Injector for W3cHeaders {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn config(pairs: &[(&str, &str)]) -> Result<TelemetryConfig, TelemetryError> {
        TelemetryConfig::from_env("tollgate-test", &env(pairs))
    }

    #[test]
    fn traces_are_off_without_an_endpoint() {
        let config = config(&[]).unwrap();
        assert_eq!(config.traces_endpoint, None);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.log_filter, "info");
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path() {
        let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(
            config.traces_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
    }

    #[test]
    fn the_traces_endpoint_is_used_as_given_and_wins() {
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://other:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://c:443/otlp/traces",
            ),
        ])
        .unwrap();
        assert_eq!(
            config.traces_endpoint.as_deref(),
            Some("https://c:443/otlp/traces")
        );
    }

    #[test]
    fn disabling_turns_traces_off() {
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), off]).unwrap();
            assert_eq!(config.traces_endpoint, None, "{off:?}");
        }
    }

    #[test]
    fn unusable_settings_name_their_variable() {
        for (pairs, key) in [
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://")],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                vec![("OTEL_TRACES_EXPORTER", "zipkin")],
                "OTEL_TRACES_EXPORTER",
            ),
            (vec![("OTEL_SDK_DISABLED", "yes")], "OTEL_SDK_DISABLED"),
            (vec![("TOLLGATE_LOG_FORMAT", "xml")], "TOLLGATE_LOG_FORMAT"),
            (vec![("RUST_LOG", "gateway=loud")], "RUST_LOG"),
            (
                vec![("TOLLGATE_TRACE_FILTER", "=[")],
                "TOLLGATE_TRACE_FILTER",
            ),
        ] {
            assert_eq!(config(&pairs).unwrap_err().key, key, "{pairs:?}");
        }
    }

    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `config`'s log layer writes for a warning inside a stage span of a request.
    fn logged(config: &TelemetryConfig) -> String {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber =
            tracing_subscriber::registry().with(log_layer(config, move || writer.clone()).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", request_id = %"req-42");
            let _in_request = request.enter();
            let stage = tracing::info_span!(target: STAGE_TARGET, "upstream", attempt = 2);
            stage.in_scope(|| tracing::warn!(deployment = "a", "upstream attempt failed"));
        });
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn text_lines_name_the_request_but_not_its_stages() {
        let line = logged(&TelemetryConfig::logs_only("tollgate-test"));
        assert!(line.contains("request{request_id=req-42}"), "{line}");
        assert!(!line.contains("upstream{"), "{line}");
        assert!(
            line.contains("upstream attempt failed deployment=\"a\""),
            "{line}"
        );
        let mut config = TelemetryConfig::logs_only("tollgate-test");
        config.log_filter = format!("info,{STAGE_TARGET}=info");
        assert!(logged(&config).contains("upstream{attempt=2}"));
    }

    #[test]
    fn json_lines_carry_the_request_spans_fields() {
        let mut config = TelemetryConfig::logs_only("tollgate-test");
        config.log_format = LogFormat::Json;
        let text = logged(&config);
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["span"]["request_id"], "req-42");
        assert_eq!(line["span"]["name"], "request");
        assert_eq!(line["fields"]["message"], "upstream attempt failed");
        assert_eq!(line["level"], "WARN");
    }

    /// Runs `f` under a subscriber that traces every span (no exporter: contexts only).
    fn traced<T>(f: impl FnOnce() -> T) -> T {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_span_continues_the_callers_trace_and_passes_it_on() {
        let headers = traced(|| {
            let span = tracing::info_span!("request");
            continue_trace(&span, Some(CALLER), Some("vendor=1"));
            let child = span.in_scope(|| tracing::info_span!("upstream"));
            trace_headers(&child)
        });
        let traceparent = &headers[0];
        assert_eq!(traceparent.0, "traceparent");
        let parts: Vec<&str> = traceparent.1.split('-').collect();
        assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
        assert_ne!(parts[2], "00f067aa0ba902b7", "a span of its own");
        assert_eq!(parts[3], "01", "sampled, as the caller asked");
        assert_eq!(headers[1], ("tracestate", "vendor=1".to_owned()));
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        let headers = traced(|| {
            let span = tracing::info_span!("request");
            continue_trace(&span, Some("00-zz-not-a-traceparent"), None);
            trace_headers(&span)
        });
        assert_eq!(headers.len(), 1, "no tracestate: {headers:?}");
        let parts: Vec<&str> = headers[0].1.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[1].len(), 32);
        assert!(!parts[1].contains("zz"));
    }

    #[test]
    fn an_untraced_span_passes_nothing_on() {
        let span = tracing::info_span!("request");
        continue_trace(&span, Some(CALLER), None);
        assert!(trace_headers(&span).is_empty());
    }
}
