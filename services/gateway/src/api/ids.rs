//! Typed ids from a route's path: a handler takes `TenantId`, `KeyId`, … instead of strings.
//! A segment that is not a UUID cannot name anything, so it is a 404 like an unknown id.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use tollgate_store::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

/// Parses an id that names a `what` (a path segment or a query parameter); not a UUID: 404.
pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(format!("{what} not found"), "not_found"))
}

macro_rules! path_id {
    ($(#[$doc:meta])* $name:ident, $segment:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The id in the request's path.
            pub fn in_path(req: &HttpRequest) -> Result<Self, ApiError> {
                parse_id(req.match_info().get($segment).unwrap_or_default(), $what).map(Self)
            }
        }

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(Self::in_path(req))
            }
        }
    };
}

path_id!(
    /// `{tenant_id}`.
    TenantId,
    "tenant_id",
    "tenant"
);
path_id!(
    /// `{key_id}`.
    KeyId,
    "key_id",
    "key"
);
path_id!(
    /// `{rule_id}`.
    RuleId,
    "rule_id",
    "alert rule"
);
path_id!(
    /// `{token_id}`.
    OperatorTokenId,
    "token_id",
    "operator token"
);
path_id!(
    /// `{alert_id}`.
    AlertId,
    "alert_id",
    "alert"
);

/// 404 unless the tenant exists.
pub async fn require_tenant(pool: &PgPool, tenant_id: Uuid) -> Result<(), ApiError> {
    match tollgate_store::tenants::get(pool, tenant_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("tenant not found", "tenant_not_found")),
    }
}
