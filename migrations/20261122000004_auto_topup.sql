-- Per-tenant auto top-up: when a booking takes the balance from at or above the threshold to
-- below it, the ledger grants `amount_usd` (credits.granted, source auto). Written by the
-- gateway's management API, read by the ledger.
CREATE TABLE auto_topup_rules (
    tenant_id      UUID PRIMARY KEY REFERENCES tenants (id),
    threshold_usd  NUMERIC(20, 10) NOT NULL CHECK (threshold_usd >= 0),
    amount_usd     NUMERIC(20, 10) NOT NULL CHECK (amount_usd > 0),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
