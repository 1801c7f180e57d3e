//! Who may call a route, and the route table's row type.

use actix_web::http::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, readiness, metrics).
    Public,
    /// A tenant API key (the data plane).
    TenantKey,
    /// The operator, or a key of the tenant named in the path; another tenant's key gets 404.
    TenantInPath,
    /// The operator (all tenants, or `?tenant_id=`), or a tenant key for its own tenant only:
    /// another tenant's id or record gets 404.
    OwnTenant,
    /// The operator only; a tenant key gets 401.
    Operator,
}

/// One route: method, full path, who may call it and its handler.
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Registers its handler.
    pub(super) route: fn() -> actix_web::Route,
}
