-- Platform rule `dead_letter`: an alert for every event a projection (ledger, analytics,
-- alerting) could not apply and parked on the dead-letter stream.
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check CHECK (kind IN
    ('balance_below', 'spend_above', 'key_budget', 'error_rate_above', 'breaker_open',
     'dead_letter'));
