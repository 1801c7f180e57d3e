-- Budgets that reset (issue 21): a key's budget_usd, and a tenant's new one, cap the spend of
-- the current budget_period: a UTC calendar day, ISO week (from Monday), month, or all time.
ALTER TABLE api_keys ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total'
    CHECK (budget_period IN ('day', 'week', 'month', 'total'));
ALTER TABLE tenants
    ADD COLUMN budget_usd NUMERIC(20, 10) CHECK (budget_usd >= 0),
    ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total'
        CHECK (budget_period IN ('day', 'week', 'month', 'total'));

-- Spend per tenant, key and UTC day of the charge's event time: the spend of any period is the
-- sum over its days. Written by the ledger in the same transaction as key_spend.
CREATE TABLE daily_spend (
    tenant_id   UUID NOT NULL,
    api_key_id  UUID NOT NULL,
    day         DATE NOT NULL,
    spent_usd   NUMERIC(20, 10) NOT NULL DEFAULT 0,
    requests    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, api_key_id, day)
);
CREATE INDEX daily_spend_by_key ON daily_spend (api_key_id, day);

-- What was booked before this migration, so period spend is right from the first request.
INSERT INTO daily_spend (tenant_id, api_key_id, day, spent_usd, requests)
SELECT tenant_id, api_key_id, (occurred_at AT TIME ZONE 'UTC')::date, -SUM(amount_usd), count(*)
FROM ledger_entries
WHERE kind = 'usage.recorded' AND api_key_id IS NOT NULL
GROUP BY 1, 2, 3;
