//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated from the route
//! table (`api::ROUTES`: paths, methods, who may call them), the request types (utoipa
//! `ToSchema` / `IntoParams` derived on the structs the handlers deserialize) and the answer
//! shapes below. A unit test checks it covers every route with no dangling reference; schemathesis
//! (in `scripts/test`) checks the running gateway against it.

use actix_web::http::Method;
use serde_json::{Map, Value, json};
use utoipa::openapi::path::ParameterIn;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::access::{Access, RouteSpec};
use super::{admin, alerts, analytics, audit, ledger, operators, topup};

/// What one operation takes and answers, beyond what the route table says.
struct Operation {
    summary: &'static str,
    /// Request body schema (JSON), if any.
    body: Option<Value>,
    /// Query parameters.
    query: Vec<Value>,
    /// Success status and its content (`None`: no body).
    success: (u16, Option<Value>),
    /// Error statuses the operation answers.
    errors: &'static [u16],
    /// Errors in Anthropic's shape instead of OpenAI's.
    anthropic_errors: bool,
}

const DATA_PLANE_ERRORS: &[u16] = &[400, 401, 402, 403, 404, 413, 429, 502, 503, 504];
const MANAGEMENT_ERRORS: &[u16] = &[400, 401, 403, 404, 409, 413, 429];

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn list_of(item: Value) -> Value {
    json_content(json!({
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "array", "items": item}},
    }))
}

fn derived<T: ToSchema + PartialSchema>(schemas: &mut Map<String, Value>) -> Value {
    let name = T::name().into_owned();
    schemas.insert(name.clone(), json!(T::schema()));
    json_content(reference(&name))
}

fn query_of<T: IntoParams>() -> Vec<Value> {
    T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| json!(p))
        .collect()
}

fn operation(method: &Method, path: &str, schemas: &mut Map<String, Value>) -> Option<Operation> {
    let op = |summary, body, success: (u16, Option<Value>), errors| Operation {
        summary,
        body,
        query: Vec::new(),
        success,
        errors,
        anthropic_errors: false,
    };
    let created = |name: &str| (201, Some(json_content(reference(name))));
    let ok = |name: &str| (200, Some(json_content(reference(name))));
    let empty = (204, None);
    let m = MANAGEMENT_ERRORS;
    Some(match (method.as_str(), path) {
        ("POST", "/v1/chat/completions") => op(
            "Create a chat completion (OpenAI format; `stream: true` answers SSE)",
            Some(json_content(reference("ChatCompletionRequest"))),
            (
                200,
                Some(json!({
                    "application/json": {"schema": reference("ChatCompletion")},
                    "text/event-stream": {"schema": reference("SseEvent")},
                })),
            ),
            DATA_PLANE_ERRORS,
        ),
        ("POST", "/v1/messages") => Operation {
            anthropic_errors: true,
            ..op(
                "Create a message (Anthropic Messages format; `stream: true` answers SSE)",
                Some(json_content(reference("AnthropicMessagesRequest"))),
                (
                    200,
                    Some(json!({
                        "application/json": {"schema": {"type": "object", "required": ["type", "content"]}},
                        "text/event-stream": {"schema": reference("SseEvent")},
                    })),
                ),
                DATA_PLANE_ERRORS,
            )
        },
        ("GET", "/v1/models") => op(
            "List the models this key may use",
            None,
            (200, Some(json_content(reference("ModelList")))),
            &[401],
        ),
        ("GET", "/healthz") => op(
            "Liveness",
            None,
            (
                200,
                Some(json_content(
                    json!({"type": "object", "required": ["status"]}),
                )),
            ),
            &[],
        ),
        ("GET", "/readyz") => op(
            "Readiness (503 when the database is away or the spool is full)",
            None,
            (200, Some(json_content(reference("Readiness")))),
            &[503],
        ),
        ("GET", "/metrics") => op(
            "Prometheus metrics",
            None,
            (
                200,
                Some(json!({
                    "application/openmetrics-text": {"schema": {"type": "string"}},
                })),
            ),
            &[],
        ),
        ("GET", "/openapi.json") => op(
            "This document",
            None,
            (200, Some(json_content(json!({"type": "object"})))),
            &[],
        ),
        ("GET", "/api/v1/me") => op(
            "Who this credential is: a tenant key's tenant and key, or an operator's role",
            None,
            ok("Me"),
            m,
        ),
        ("GET", "/api/v1/tenants") => Operation {
            query: query_of::<admin::TenantListQuery>(),
            ..op(
                "Every tenant with its balance, newest first",
                None,
                (200, Some(json_content(reference("TenantPage")))),
                m,
            )
        },
        ("POST", "/api/v1/tenants") => op(
            "Create a tenant",
            Some(derived::<admin::CreateTenant>(schemas)),
            created("Tenant"),
            m,
        ),
        ("GET", "/api/v1/tenants/{tenant_id}") => op("Get a tenant", None, ok("Tenant"), m),
        ("PATCH", "/api/v1/tenants/{tenant_id}") => op(
            "Change a tenant's cache settings",
            Some(derived::<admin::UpdateTenant>(schemas)),
            ok("Tenant"),
            m,
        ),
        ("DELETE", "/api/v1/tenants/{tenant_id}/cache") => {
            op("Purge the tenant's cache entries", None, empty, m)
        }
        ("POST", "/api/v1/tenants/{tenant_id}/keys") => op(
            "Create an API key (the plaintext key is answered once; a tenant's own key needs `manage_keys`)",
            Some(derived::<admin::CreateKey>(schemas)),
            created("NewApiKey"),
            m,
        ),
        ("GET", "/api/v1/tenants/{tenant_id}/keys") => op(
            "List a tenant's keys",
            None,
            (200, Some(list_of(reference("ApiKey")))),
            m,
        ),
        ("POST", "/api/v1/tenants/{tenant_id}/credits") => op(
            "Grant prepaid credit (idempotent by idempotency_key)",
            Some(derived::<admin::GrantCredits>(schemas)),
            created("MoneyEvent"),
            m,
        ),
        ("POST", "/api/v1/tenants/{tenant_id}/adjustments") => op(
            "Adjust a balance (signed; idempotent by idempotency_key)",
            Some(derived::<admin::AdjustCredits>(schemas)),
            created("MoneyEvent"),
            m,
        ),
        ("GET", "/api/v1/tenants/{tenant_id}/balance") => {
            op("The tenant's balance", None, ok("Balance"), m)
        }
        ("GET", "/api/v1/tenants/{tenant_id}/ledger") => Operation {
            query: query_of::<ledger::HistoryQuery>(),
            ..op(
                "Ledger entries, newest first",
                None,
                (200, Some(json_content(reference("LedgerPage")))),
                m,
            )
        },
        ("PUT", "/api/v1/tenants/{tenant_id}/auto-topup") => op(
            "Set the auto top-up rule",
            Some(derived::<topup::PutRule>(schemas)),
            ok("AutoTopup"),
            m,
        ),
        ("GET", "/api/v1/tenants/{tenant_id}/auto-topup") => {
            op("Get the auto top-up rule", None, ok("AutoTopup"), m)
        }
        ("DELETE", "/api/v1/tenants/{tenant_id}/auto-topup") => {
            op("Remove the auto top-up rule", None, empty, m)
        }
        ("DELETE", "/api/v1/keys/{key_id}") => Operation {
            query: query_of::<admin::RevokeQuery>(),
            ..op(
                "Revoke a key (revoke_created=true: and every key it created; a tenant's own key needs `manage_keys`)",
                None,
                empty,
                m,
            )
        },
        ("PATCH", "/api/v1/keys/{key_id}") => op(
            "Change a key's budget, models and cache settings (null clears; a tenant's own key needs `manage_keys`)",
            Some(derived::<admin::UpdateKey>(schemas)),
            ok("ApiKey"),
            m,
        ),
        ("GET", "/api/v1/providers/health") => op(
            "Health of every upstream deployment",
            None,
            (
                200,
                Some(list_of(
                    json!({"type": "object", "required": ["deployment", "state"]}),
                )),
            ),
            m,
        ),
        (
            "GET",
            "/api/v1/analytics/costs" | "/api/v1/analytics/usage" | "/api/v1/analytics/top",
        ) => Operation {
            query: query_of::<analytics::AnalyticsParams>(),
            ..op(
                "Cost and usage analytics (JSON, or CSV with format=csv)",
                None,
                (
                    200,
                    Some(json!({
                        "application/json": {"schema": {
                            "type": "object", "required": ["data"],
                            "properties": {"data": {"type": "array", "items": {"type": "object"}}},
                        }},
                        "text/csv": {"schema": {"type": "string"}},
                    })),
                ),
                m,
            )
        },
        ("POST", "/api/v1/tenants/{tenant_id}/alert-rules") => op(
            "Create an alert rule (the webhook secret is answered once)",
            Some(derived::<alerts::CreateRule>(schemas)),
            created("NewAlertRule"),
            m,
        ),
        ("POST", "/api/v1/alert-rules") => {
            derived::<alerts::CreateRule>(schemas);
            op(
                "Create a platform alert rule: `breaker_open` or `dead_letter` (the webhook secret is answered once)",
                Some(json_content(json!({
                    "allOf": [reference("CreateRule")],
                    "examples": [{"kind": "dead_letter"}],
                }))),
                created("NewAlertRule"),
                m,
            )
        }
        ("GET", "/api/v1/tenants/{tenant_id}/alert-rules" | "/api/v1/alert-rules") => op(
            "List alert rules",
            None,
            (200, Some(list_of(reference("AlertRule")))),
            m,
        ),
        (
            "DELETE",
            "/api/v1/tenants/{tenant_id}/alert-rules/{rule_id}" | "/api/v1/alert-rules/{rule_id}",
        ) => op("Delete an alert rule", None, empty, m),
        ("GET", "/api/v1/alerts") => Operation {
            query: query_of::<alerts::AlertsQuery>(),
            ..op(
                "Alerts raised, newest first",
                None,
                (200, Some(list_of(reference("Alert")))),
                m,
            )
        },
        ("GET", "/api/v1/alerts/{alert_id}") => {
            op("One alert with its delivery attempts", None, ok("Alert"), m)
        }
        ("GET", "/api/v1/audit") => Operation {
            query: query_of::<audit::AuditQuery>(),
            ..op(
                "Management actions (who did what to what), newest first",
                None,
                (200, Some(json_content(reference("AuditPage")))),
                m,
            )
        },
        ("POST", "/api/v1/operator-tokens") => op(
            "Mint a scoped operator token (the token is answered once)",
            Some(derived::<operators::CreateOperatorToken>(schemas)),
            created("NewOperatorToken"),
            m,
        ),
        ("GET", "/api/v1/operator-tokens") => op(
            "List operator tokens (never the tokens themselves)",
            None,
            (200, Some(list_of(reference("OperatorToken")))),
            m,
        ),
        ("DELETE", "/api/v1/operator-tokens/{token_id}") => {
            op("Revoke an operator token", None, ok("OperatorToken"), m)
        }
        _ => return None,
    })
}

/// Operations whose answer names a resource, the path parameter it fills and where in the
/// answer the id is (so schemathesis's stateful phase calls the others on real ids).
const PRODUCERS: [(&str, &str, u16, &str, &str); 5] = [
    ("/api/v1/operator-tokens", "post", 201, "token_id", "/id"),
    ("/api/v1/tenants", "post", 201, "tenant_id", "/id"),
    (
        "/api/v1/tenants/{tenant_id}/keys",
        "post",
        201,
        "key_id",
        "/id",
    ),
    ("/api/v1/alert-rules", "post", 201, "rule_id", "/id"),
    ("/api/v1/alerts", "get", 200, "alert_id", "/data/0/id"),
];

/// Adds OpenAPI links from each producer's answer to every operation taking its id.
fn link_producers(paths: &mut Map<String, Value>) {
    for (path, method, status, parameter, pointer) in PRODUCERS {
        let consumers: Vec<(String, String)> = paths
            .iter()
            .filter(|(p, _)| p.contains(&format!("{{{parameter}}}")))
            .flat_map(|(p, item)| {
                item.as_object()
                    .into_iter()
                    .flat_map(|ops| ops.values())
                    .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
                    .map(move |id| (p.clone(), id))
            })
            .collect();
        let mut links = Map::new();
        for (consumer_path, operation_id) in consumers {
            let needs_tenant = parameter != "tenant_id" && consumer_path.contains("{tenant_id}");
            if needs_tenant && !path.contains("{tenant_id}") {
                continue; // e.g. a platform rule has no tenant to fill the path with
            }
            let mut parameters = Map::new();
            parameters.insert(parameter.into(), json!(format!("$response.body#{pointer}")));
            if needs_tenant {
                parameters.insert("tenant_id".into(), json!("$response.body#/tenant_id"));
            }
            let name = operation_id.replace(['/', '{', '}', ' '], "_");
            links.insert(
                name,
                json!({"operationId": operation_id, "parameters": parameters}),
            );
        }
        if let Some(response) = paths
            .get_mut(path)
            .and_then(|item| item.get_mut(method))
            .and_then(|op| op["responses"].get_mut(status.to_string()))
        {
            response["links"] = Value::Object(links);
        }
    }
}

fn security(access: Access) -> Value {
    match access {
        Access::Public => json!([]),
        Access::TenantKey => json!([{"tenant_key": []}]),
        Access::Operator => json!([{"admin_token": []}]),
        Access::TenantInPath | Access::OwnTenant => {
            json!([{"admin_token": []}, {"tenant_key": []}])
        }
    }
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "schema": {"type": "string", "format": "uuid"}})
        })
        .collect()
}

fn responses(op: &Operation) -> Value {
    let mut responses = Map::new();
    let (status, content) = &op.success;
    let mut success = json!({"description": "Success"});
    if let Some(content) = content {
        success["content"] = content.clone();
    }
    responses.insert(status.to_string(), success);
    let error = if op.anthropic_errors {
        "AnthropicError"
    } else {
        "Error"
    };
    for status in op.errors {
        responses.insert(
            status.to_string(),
            json!({"description": reason(*status), "content": json_content(reference(error))}),
        );
    }
    Value::Object(responses)
}

fn reason(status: u16) -> &'static str {
    actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The groups of the API reference, in order, with what each holds.
const TAGS: [(&str, &str); 11] = [
    (
        "Data plane",
        "OpenAI- and Anthropic-compatible calls with a tenant API key",
    ),
    ("Identity", "Who a credential is"),
    ("Tenants", "Organizations, their limits and cache settings"),
    (
        "Keys",
        "API keys: the operator's, or a tenant's own key with manage_keys",
    ),
    (
        "Money",
        "Credit, adjustments, auto top-up, balance and ledger",
    ),
    ("Analytics", "Spend, usage and top spenders over time"),
    ("Alerts", "Alert rules and the alerts they raised"),
    ("Providers", "Upstream deployments and their breakers"),
    ("Audit", "Who did what to what"),
    ("Operator tokens", "Scoped operator credentials"),
    ("Operations", "Health, readiness, metrics and this document"),
];

/// The group of [`TAGS`] an operation on `path` is listed under.
fn tag_of(path: &str) -> &'static str {
    let area = |needle: &str| path.contains(needle);
    if path.starts_with("/v1/") {
        "Data plane"
    } else if path == "/api/v1/me" {
        "Identity"
    } else if area("/keys") {
        "Keys"
    } else if [
        "/credits",
        "/adjustments",
        "/auto-topup",
        "/balance",
        "/ledger",
    ]
    .iter()
    .any(|n| area(n))
    {
        "Money"
    } else if area("/analytics") {
        "Analytics"
    } else if area("alert") {
        "Alerts"
    } else if area("/providers") {
        "Providers"
    } else if area("/audit") {
        "Audit"
    } else if area("/operator-tokens") {
        "Operator tokens"
    } else if path.starts_with("/api/v1/tenants") {
        "Tenants"
    } else {
        "Operations"
    }
}

/// The whole document of `routes`.
pub fn document(routes: &[RouteSpec]) -> Value {
    let mut schemas = shared_schemas();
    let mut paths = Map::new();
    for route in routes {
        let (method, path) = (&route.method, route.path);
        let Some(op) = operation(method, path, &mut schemas) else {
            continue;
        };
        let mut parameters = path_parameters(path);
        parameters.extend(op.query.iter().cloned());
        let mut operation = json!({
            "operationId": format!("{} {path}", method.as_str()),
            "tags": [tag_of(path)],
            "summary": op.summary,
            "security": security(route.access),
            "parameters": parameters,
            "responses": responses(&op),
        });
        if let Some(role) = route.role {
            operation["x-tollgate-role"] = json!(role.as_str());
        }
        if let Some(action) = route.audit {
            operation["x-tollgate-audit"] = json!(action);
        }
        if let Some(body) = &op.body {
            operation["requestBody"] = json!({"required": true, "content": body});
        }
        let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        item[method.as_str().to_ascii_lowercase()] = operation;
    }
    link_producers(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tollgate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-tenant LLM API gateway that bills: OpenAI- and Anthropic-compatible data plane, management API.",
        },
        "tags": TAGS
            .iter()
            .map(|(name, description)| json!({"name": name, "description": description}))
            .collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "tenant_key": {"type": "http", "scheme": "bearer", "description": "A tenant API key (tg_...)"},
                "admin_token": {"type": "http", "scheme": "bearer", "description": "The operator's root admin token, or a scoped operator token (`tgo_…`) whose role the operation's `x-tollgate-role` names"},
            },
        },
    })
}

/// Answer shapes the handlers build (store records and JSON objects).
fn shared_schemas() -> Map<String, Value> {
    let money = json!({"type": "string", "description": "USD as a decimal string"});
    let uuid = json!({"type": "string", "format": "uuid"});
    let time = json!({"type": "string", "format": "date-time"});
    let nullable_time = json!({"type": ["string", "null"], "format": "date-time"});
    let period = json!({
        "enum": ["day", "week", "month", "total"],
        "description": "The UTC calendar period a budget covers; it resets when the period ends",
    });
    let nullable = |t: &str| json!({"type": [t, "null"]});
    let schemas = json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["message", "type"],
                "properties": {
                    "message": {"type": "string"}, "type": {"type": "string"},
                    "param": nullable("string"), "code": nullable("string"),
                },
            }},
        },
        "AnthropicError": {
            "type": "object", "required": ["type", "error"],
            "properties": {"type": {"const": "error"}, "error": {
                "type": "object", "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            }},
        },
        "SseEvent": {
            "type": "object", "required": ["data"],
            "description": "One server-sent event: `data` is a JSON chunk (or `[DONE]`)",
            "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
        },
        "ChatMessage": {
            "type": "object", "required": ["role"],
            "properties": {
                "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
                "content": {"anyOf": [
                    {"type": "string"}, {"type": "null"},
                    {"type": "array", "items": {"type": "object"}},
                ]},
                "name": {"type": "string"},
            },
        },
        "ChatCompletionRequest": {
            "type": "object", "required": ["model", "messages"],
            "examples": [{"model": "demo-small", "max_tokens": 64,
                          "messages": [{"role": "user", "content": "Say hello in French."}]}],
            "properties": {
                "model": {"type": "string", "minLength": 1, "examples": ["demo-small"]},
                "messages": {"type": "array", "minItems": 1, "items": reference("ChatMessage")},
                "stream": {"type": "boolean"},
                "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
                "max_tokens": {"type": "integer", "minimum": 1},
                "max_completion_tokens": {"type": "integer", "minimum": 1},
                "temperature": {"type": "number"},
                "n": {"type": "integer", "minimum": 1},
                "provider_preference": {"anyOf": [
                    {"type": "string"}, {"type": "array", "items": {"type": "string"}},
                ]},
            },
        },
        "ChatCompletion": {
            "type": "object", "required": ["id", "object", "model", "choices"],
            "properties": {
                "id": {"type": "string"}, "object": {"const": "chat.completion"},
                "created": {"type": "integer"}, "model": {"type": "string"},
                "choices": {"type": "array", "items": {"type": "object"}},
                "usage": {"type": "object", "properties": {
                    "prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"}, "cost_usd": money,
                }},
            },
        },
        "AnthropicMessagesRequest": {
            "type": "object", "required": ["model", "messages", "max_tokens"],
            "examples": [{"model": "demo-small", "max_tokens": 64,
                          "messages": [{"role": "user", "content": "Say hello in French."}]}],
            "properties": {
                "model": {"type": "string", "minLength": 1, "examples": ["demo-small"]},
                "max_tokens": {"type": "integer", "minimum": 1},
                "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                "messages": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["role", "content"],
                    "properties": {
                        "role": {"enum": ["user", "assistant"]},
                        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                    },
                }},
                "stream": {"type": "boolean"},
            },
        },
        "ModelList": {
            "type": "object", "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {
                "type": "object", "required": ["id", "object"],
                "properties": {"id": {"type": "string"}, "object": {"const": "model"}},
            }}},
        },
        "Readiness": {
            "type": "object", "required": ["status", "checks"],
            "properties": {
                "status": {"enum": ["ready", "not_ready"]},
                "checks": {"type": "object", "properties": {
                    "database": {"type": "boolean"}, "nats": {"type": "boolean"}, "spool": {"type": "boolean"},
                }},
                "events_unacknowledged": {"type": "integer"},
                "events_spooled": {"type": "integer"},
                "balance_feed": {"enum": ["live", "stale"]},
            },
        },
        "Tenant": {
            "type": "object", "required": ["id", "name", "cache", "created_at"],
            "properties": {
                "id": uuid, "name": {"type": "string"}, "cache": {"type": "string"},
                "cache_ttl_seconds": nullable("integer"),
                "rpm": nullable("integer"), "tpm": nullable("integer"),
                "max_concurrent": nullable("integer"),
                "budget_usd": {"type": ["string", "null"]}, "budget_period": period,
                "period_spent_usd": money, "period_started_at": nullable_time,
                "period_resets_at": nullable_time, "created_at": time,
            },
        },
        "MoneyEvent": {
            "type": "object", "required": ["event_id", "tenant_id", "kind", "amount_usd", "idempotency_key"],
            "properties": {
                "event_id": uuid, "tenant_id": uuid,
                "kind": {"enum": ["credits.granted", "credits.adjusted"]},
                "amount_usd": money, "idempotency_key": {"type": "string"},
                "note": nullable("string"), "reason": {"type": "string"},
            },
        },
        "Balance": {
            "type": "object",
            "required": ["tenant_id", "balance_usd", "credited_usd", "adjusted_usd", "spent_usd"],
            "properties": {
                "tenant_id": uuid, "balance_usd": money, "credited_usd": money,
                "adjusted_usd": money, "spent_usd": money,
                "last_seq": {"type": "integer"}, "as_of": time,
            },
        },
        "LedgerPage": {
            "type": "object", "required": ["data"],
            "properties": {
                "data": {"type": "array", "items": {
                    "type": "object", "required": ["event_id", "kind", "amount_usd", "occurred_at"],
                    "properties": {
                        "event_id": uuid, "kind": {"type": "string"}, "amount_usd": money,
                        "occurred_at": time,
                    },
                }},
                "next_before": {"type": ["string", "null"]},
            },
        },
        "AuditPage": {
            "type": "object", "required": ["data"],
            "properties": {
                "data": {"type": "array", "items": {
                    "type": "object",
                    "required": ["event_id", "at", "actor_kind", "action", "target_type", "status"],
                    "properties": {
                        "event_id": uuid, "at": time, "tenant_id": {"type": ["string", "null"]},
                        "actor_kind": {"enum": ["root", "operator_token", "api_key"]},
                        "actor_id": {"type": ["string", "null"]}, "action": {"type": "string"},
                        "target_type": {"type": "string"}, "target_id": {"type": ["string", "null"]},
                        "request_id": {"type": ["string", "null"]}, "status": {"type": "integer"},
                    },
                }},
                "next_before": {"type": ["string", "null"]},
            },
        },
        "OperatorToken": {
            "type": "object", "required": ["id", "name", "role", "token_prefix", "created_at"],
            "properties": {
                "id": uuid, "name": {"type": "string"},
                "role": {"enum": ["admin", "billing", "viewer"]},
                "token_prefix": {"type": "string"}, "created_by": {"type": "string"},
                "created_at": time, "revoked_at": {"type": ["string", "null"]},
            },
        },
        "NewOperatorToken": {
            "type": "object", "required": ["id", "name", "role", "token"],
            "properties": {
                "id": uuid, "name": {"type": "string"},
                "role": {"enum": ["admin", "billing", "viewer"]},
                "token": {"type": "string", "pattern": "^tgo_"},
            },
        },
        "AutoTopup": {
            "type": "object", "required": ["tenant_id", "threshold_usd", "amount_usd"],
            "properties": {
                "tenant_id": uuid, "threshold_usd": money, "amount_usd": money, "updated_at": time,
            },
        },
        "AlertRule": {
            "type": "object", "required": ["id", "kind", "created_at"],
            "properties": {
                "id": uuid, "tenant_id": {"type": ["string", "null"]}, "kind": {"type": "string"},
                "threshold": {"type": ["string", "null"]},
                "percents": {"type": ["array", "null"], "items": {"type": "integer"}},
                "api_key_id": {"type": ["string", "null"]},
                "window_seconds": nullable("integer"), "min_requests": {"type": "integer"},
                "webhook_url": nullable("string"), "created_at": time,
            },
        },
        "NewAlertRule": {"allOf": [reference("AlertRule"), {
            "type": "object", "required": ["webhook_secret"],
            "properties": {"webhook_secret": {"type": "string"}},
        }]},
        "Alert": {
            "type": "object", "required": ["id", "rule_id", "kind", "message", "raised_at"],
            "properties": {
                "id": uuid, "rule_id": uuid, "tenant_id": {"type": ["string", "null"]},
                "kind": {"type": "string"}, "subject": {"type": "string"},
                "message": {"type": "string"}, "value": {"type": "string"},
                "threshold": {"type": "string"}, "raised_at": time,
                "delivery": {"type": "string"},
                "deliveries": {"type": "array", "items": {"type": "object"}},
            },
        },
    });
    // Keys and the console's reads, in a second literal (one literal this long exceeds
    // json!'s recursion limit).
    let console = json!({
        "ApiKey": {
            "type": "object", "required": ["id", "tenant_id", "name", "key_prefix", "created_at"],
            "properties": {
                "id": uuid, "tenant_id": uuid, "name": {"type": "string"},
                "key_prefix": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "allowed_models": {"type": ["array", "null"], "items": {"type": "string"}},
                "budget_usd": {"type": ["string", "null"]}, "budget_period": period,
                "period_spent_usd": money, "period_started_at": nullable_time,
                "period_resets_at": nullable_time,
                "rpm": nullable("integer"), "tpm": nullable("integer"),
                "max_concurrent": nullable("integer"),
                "default_max_tokens": nullable("integer"), "max_output_tokens": nullable("integer"),
                "cache": nullable("string"), "cache_threshold": nullable("number"),
                "cache_ttl_seconds": nullable("integer"),
                "cache_any_temperature": {"type": "boolean"},
                "cache_precision": {"type": "string", "enum": ["strict", "balanced"]},
                "manage_keys": {"type": "boolean"},
                "created_by_key_id": {"type": ["string", "null"], "format": "uuid"},
                "created_at": time, "revoked_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "NewApiKey": {"allOf": [reference("ApiKey"), {
            "type": "object", "required": ["key"],
            "properties": {"key": {"type": "string", "description": "The plaintext key, shown once"}},
        }]},
        "TenantPage": {
            "type": "object", "required": ["data"],
            "properties": {
                "data": {"type": "array", "items": {"allOf": [reference("Tenant"), {
                    "type": "object", "required": ["balance_usd", "spent_usd"],
                    "properties": {"balance_usd": money, "spent_usd": money},
                }]}},
                "next_before": {"type": ["string", "null"]},
            },
        },
        "Me": {
            "type": "object", "required": ["kind"],
            "properties": {
                "kind": {"enum": ["tenant", "operator"]},
                "tenant_id": uuid, "tenant_name": {"type": "string"},
                "key_id": uuid, "key_name": {"type": "string"},
                "manage_keys": {"type": "boolean"},
                "role": {"enum": ["admin", "billing", "viewer"]},
                "token_id": {"type": ["string", "null"]},
            },
        },
    });
    match (schemas, console) {
        (Value::Object(mut map), Value::Object(console)) => {
            map.extend(console);
            map
        }
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ROUTES;

    #[test]
    fn every_operation_is_in_one_of_the_listed_groups() {
        let document = document(ROUTES);
        let names: Vec<&str> = TAGS.iter().map(|(name, _)| *name).collect();
        let mut used = std::collections::HashSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let tag = operation["tags"][0].as_str().unwrap();
                assert!(names.contains(&tag), "{method} {path}: {tag}");
                used.insert(tag);
            }
        }
        assert_eq!(used.len(), names.len(), "a group holds nothing: {used:?}");
        assert_eq!(tag_of("/api/v1/tenants/{tenant_id}/keys"), "Keys");
        assert_eq!(tag_of("/api/v1/tenants/{tenant_id}/balance"), "Money");
        assert_eq!(tag_of("/api/v1/tenants/{tenant_id}"), "Tenants");
        assert_eq!(tag_of("/api/v1/alerts/{alert_id}"), "Alerts");
    }

    #[test]
    fn the_document_is_openapi_and_covers_every_route() {
        let document = document(ROUTES);
        // Full validation is schemathesis's (scripts/contract); here: shape and coverage.
        assert_eq!(document["openapi"], "3.1.0");
        for route in ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            let operation = &document["paths"][route.path][&method];
            assert!(
                operation.is_object(),
                "{} {} is not documented",
                route.method,
                route.path
            );
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{} {} documents no response",
                route.method,
                route.path
            );
        }
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let references = document.to_string();
        for name in references
            .split("#/components/schemas/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
        {
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
    }

    #[test]
    fn a_new_tenant_links_to_the_operations_on_it() {
        let document = document(ROUTES);
        let links = &document["paths"]["/api/v1/tenants"]["post"]["responses"]["201"]["links"];
        let balance = &links["GET__api_v1_tenants__tenant_id__balance"];
        assert_eq!(
            balance["operationId"],
            "GET /api/v1/tenants/{tenant_id}/balance"
        );
        assert_eq!(balance["parameters"]["tenant_id"], "$response.body#/id");
        assert!(links.as_object().unwrap().len() >= 10, "{links}");
    }

    #[test]
    fn request_schemas_come_from_the_handlers_types() {
        let document = document(ROUTES);
        let create_key = &document["components"]["schemas"]["CreateKey"];
        assert_eq!(create_key["additionalProperties"], false, "{create_key}");
        assert!(create_key["properties"]["cache_threshold"].is_object());
        let required = create_key["required"].as_array().unwrap();
        assert!(required.contains(&json!("name")), "{create_key}");
    }
}
