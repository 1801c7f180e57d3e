-- Alert rules and what came of them.
--
-- alert_rules is written by the gateway's management API (like tenants and keys) and read by
-- services/alerting; alert_state, alerts, alert_deliveries, alerting_events and
-- alerting_window are written by services/alerting only.

CREATE TABLE alert_rules (
    id              UUID PRIMARY KEY,
    -- NULL: a platform-wide rule (provider breakers), the operator's.
    tenant_id       UUID REFERENCES tenants (id),
    kind            TEXT NOT NULL CHECK (kind IN
                        ('balance_below', 'spend_above', 'key_budget', 'error_rate_above', 'breaker_open')),
    -- USD for balance_below / spend_above; a percentage for error_rate_above.
    threshold       NUMERIC(20, 10),
    -- Budget percentages for key_budget, e.g. {50,80,100}.
    percents        INTEGER[],
    -- key_budget: this key only (NULL: every key of the tenant that has a budget).
    api_key_id      UUID,
    window_seconds  INTEGER CHECK (window_seconds > 0),
    -- error_rate_above: fewest requests in the window before the rate counts.
    min_requests    INTEGER NOT NULL DEFAULT 10,
    webhook_url     TEXT,
    -- HMAC-SHA256 key of webhook signatures (shown once at creation; needed to sign, so kept).
    webhook_secret  TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);
CREATE INDEX alert_rules_by_tenant ON alert_rules (tenant_id) WHERE deleted_at IS NULL;

-- Per rule and subject ('' for a tenant rule, a key id and percent for key_budget, a deployment
-- for breaker_open): armed until the condition holds, then fired until it clears.
CREATE TABLE alert_state (
    rule_id     UUID NOT NULL REFERENCES alert_rules (id),
    subject     TEXT NOT NULL,
    armed       BOOLEAN NOT NULL DEFAULT true,
    crossings   BIGINT NOT NULL DEFAULT 0,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, subject)
);

CREATE TABLE alerts (
    -- UUIDv5 of (rule, subject, crossing): a retried firing is the same alert.
    id               UUID PRIMARY KEY,
    rule_id          UUID NOT NULL REFERENCES alert_rules (id),
    tenant_id        UUID,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    message          TEXT NOT NULL,
    value            TEXT NOT NULL,
    threshold        TEXT NOT NULL,
    raised_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- pending (to deliver), delivered, failed (gave up), none (no webhook).
    delivery         TEXT NOT NULL CHECK (delivery IN ('pending', 'delivered', 'failed', 'none')),
    next_attempt_at  TIMESTAMPTZ,
    published        BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX alerts_by_tenant ON alerts (tenant_id, raised_at DESC);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE delivery = 'pending';

CREATE TABLE alert_deliveries (
    alert_id      UUID NOT NULL REFERENCES alerts (id),
    attempt       INTEGER NOT NULL,
    url           TEXT NOT NULL,
    status        INTEGER,
    error         TEXT,
    duration_ms   INTEGER NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, attempt)
);

-- Usage events counted into the windows, once each.
CREATE TABLE alerting_events (
    event_id     UUID PRIMARY KEY,
    occurred_at  TIMESTAMPTZ NOT NULL
);

-- Per tenant and minute: requests, errors and cost, for spend and error-rate windows.
CREATE TABLE alerting_window (
    tenant_id  UUID NOT NULL,
    minute     TIMESTAMPTZ NOT NULL,
    requests   BIGINT NOT NULL,
    errors     BIGINT NOT NULL,
    cost_usd   NUMERIC(20, 10) NOT NULL,
    PRIMARY KEY (tenant_id, minute)
);
