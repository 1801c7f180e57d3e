-- Tenants (organizations) and their API keys. Owned (written) by the gateway's management API.

CREATE TABLE tenants (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- SHA-256 of the full key; the plaintext is never stored.
    key_hash        BYTEA NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    -- First characters of the key, to tell keys apart in listings.
    key_prefix      TEXT NOT NULL,
    tags            TEXT[] NOT NULL DEFAULT '{}',
    -- NULL: every model the gateway serves.
    allowed_models  TEXT[],
    budget_usd      NUMERIC(20, 10) CHECK (budget_usd >= 0),
    rpm             INTEGER CHECK (rpm > 0),
    tpm             INTEGER CHECK (tpm > 0),
    cache_mode      TEXT NOT NULL DEFAULT 'off' CHECK (cache_mode IN ('off', 'exact', 'semantic')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at      TIMESTAMPTZ
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_by_revocation ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
