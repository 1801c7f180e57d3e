-- Scoped operator tokens (issue 22): named tokens with a role, stored as SHA-256 hashes (the
-- token itself is shown once), revocable. `created_by` is the actor that minted it.
CREATE TABLE operator_tokens (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role TEXT NOT NULL CHECK (role IN ('admin', 'billing', 'viewer')),
    token_hash BYTEA NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

-- The audit log (issue 22): one row per management action, projected from `audit.recorded`
-- events by analytics (exactly once by event id), read by GET /api/v1/audit.
CREATE TABLE audit_log (
    event_id UUID PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    -- The tenant the action concerns; NULL for platform actions (tokens, platform rules).
    tenant_id UUID,
    actor_kind TEXT NOT NULL,
    actor_id UUID,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    request_id TEXT,
    status SMALLINT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at DESC, event_id DESC);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, at DESC, event_id DESC);
