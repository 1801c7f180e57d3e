-- The ledger's projection of the event stream. Written only by services/ledger; the gateway's
-- management API reads it. Every money column is NUMERIC(20,10).

-- One row per money event, keyed by the event id: a redelivered or republished event inserts
-- nothing and so is applied once.
CREATE TABLE ledger_entries (
    entry_no        BIGSERIAL UNIQUE,
    event_id        UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    kind            TEXT NOT NULL,
    -- Signed effect on the balance: credits positive, usage negative.
    amount_usd      NUMERIC(20, 10) NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    stream_seq      BIGINT NOT NULL,
    api_key_id      UUID,
    request_id      TEXT,
    model           TEXT,
    prompt_tokens   BIGINT,
    completion_tokens BIGINT,
    idempotency_key TEXT,
    note            TEXT,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_by_tenant ON ledger_entries (tenant_id, entry_no DESC);
CREATE INDEX ledger_entries_by_request ON ledger_entries (request_id) WHERE request_id IS NOT NULL;

CREATE TABLE tenant_balances (
    tenant_id     UUID PRIMARY KEY,
    credited_usd  NUMERIC(20, 10) NOT NULL DEFAULT 0,
    adjusted_usd  NUMERIC(20, 10) NOT NULL DEFAULT 0,
    spent_usd     NUMERIC(20, 10) NOT NULL DEFAULT 0,
    -- credited + adjusted - spent, kept in the same statement as its parts.
    balance_usd   NUMERIC(20, 10) NOT NULL DEFAULT 0,
    entries       BIGINT NOT NULL DEFAULT 0,
    -- Highest stream sequence applied for this tenant.
    last_seq      BIGINT NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE key_spend (
    api_key_id  UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    spent_usd   NUMERIC(20, 10) NOT NULL DEFAULT 0,
    requests    BIGINT NOT NULL DEFAULT 0
);

-- Spend per tenant, key and calendar month (UTC).
CREATE TABLE monthly_spend (
    tenant_id   UUID NOT NULL,
    api_key_id  UUID NOT NULL,
    month       DATE NOT NULL,
    spent_usd   NUMERIC(20, 10) NOT NULL DEFAULT 0,
    requests    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, api_key_id, month)
);
