-- A tenant's spend since a day (tenant budgets) reads its days without scanning every key.
CREATE INDEX daily_spend_by_tenant_day ON daily_spend (tenant_id, day);
