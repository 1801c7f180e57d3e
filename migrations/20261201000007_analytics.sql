-- Usage analytics, owned (written) by services/analytics; the gateway reads them for
-- /api/v1/analytics/*. Every usage event is counted once (analytics_events is keyed by event
-- id, like the ledger's entries) into a minute, an hour and a day rollup per
-- tenant x key x model x provider, so a 90-day query reads days, not minutes.

CREATE TABLE analytics_events (
    event_id     UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    counted_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE analytics_usage_minute (
    tenant_id          UUID NOT NULL,
    api_key_id         UUID NOT NULL,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    -- Start of the minute (UTC) the requests fall in, by the event's occurred_at.
    bucket             TIMESTAMPTZ NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    cost_usd           NUMERIC(20, 10) NOT NULL,
    cache_hits         BIGINT NOT NULL,
    saved_usd          NUMERIC(20, 10) NOT NULL,
    -- Latency histogram: requests per bucket (upper bounds in libs/store/src/analytics.rs).
    lat_00 BIGINT NOT NULL DEFAULT 0,
    lat_01 BIGINT NOT NULL DEFAULT 0,
    lat_02 BIGINT NOT NULL DEFAULT 0,
    lat_03 BIGINT NOT NULL DEFAULT 0,
    lat_04 BIGINT NOT NULL DEFAULT 0,
    lat_05 BIGINT NOT NULL DEFAULT 0,
    lat_06 BIGINT NOT NULL DEFAULT 0,
    lat_07 BIGINT NOT NULL DEFAULT 0,
    lat_08 BIGINT NOT NULL DEFAULT 0,
    lat_09 BIGINT NOT NULL DEFAULT 0,
    lat_10 BIGINT NOT NULL DEFAULT 0,
    lat_11 BIGINT NOT NULL DEFAULT 0,
    lat_12 BIGINT NOT NULL DEFAULT 0,
    lat_13 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, bucket, api_key_id, model, provider)
);
CREATE INDEX analytics_usage_minute_by_bucket ON analytics_usage_minute (bucket);

CREATE TABLE analytics_usage_hour (
    tenant_id          UUID NOT NULL,
    api_key_id         UUID NOT NULL,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    -- Start of the hour (UTC) the requests fall in, by the event's occurred_at.
    bucket             TIMESTAMPTZ NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    cost_usd           NUMERIC(20, 10) NOT NULL,
    cache_hits         BIGINT NOT NULL,
    saved_usd          NUMERIC(20, 10) NOT NULL,
    -- Latency histogram: requests per bucket (upper bounds in libs/store/src/analytics.rs).
    lat_00 BIGINT NOT NULL DEFAULT 0,
    lat_01 BIGINT NOT NULL DEFAULT 0,
    lat_02 BIGINT NOT NULL DEFAULT 0,
    lat_03 BIGINT NOT NULL DEFAULT 0,
    lat_04 BIGINT NOT NULL DEFAULT 0,
    lat_05 BIGINT NOT NULL DEFAULT 0,
    lat_06 BIGINT NOT NULL DEFAULT 0,
    lat_07 BIGINT NOT NULL DEFAULT 0,
    lat_08 BIGINT NOT NULL DEFAULT 0,
    lat_09 BIGINT NOT NULL DEFAULT 0,
    lat_10 BIGINT NOT NULL DEFAULT 0,
    lat_11 BIGINT NOT NULL DEFAULT 0,
    lat_12 BIGINT NOT NULL DEFAULT 0,
    lat_13 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, bucket, api_key_id, model, provider)
);
CREATE INDEX analytics_usage_hour_by_bucket ON analytics_usage_hour (bucket);

CREATE TABLE analytics_usage_day (
    tenant_id          UUID NOT NULL,
    api_key_id         UUID NOT NULL,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    -- Start of the day (UTC) the requests fall in, by the event's occurred_at.
    bucket             TIMESTAMPTZ NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    cost_usd           NUMERIC(20, 10) NOT NULL,
    cache_hits         BIGINT NOT NULL,
    saved_usd          NUMERIC(20, 10) NOT NULL,
    -- Latency histogram: requests per bucket (upper bounds in libs/store/src/analytics.rs).
    lat_00 BIGINT NOT NULL DEFAULT 0,
    lat_01 BIGINT NOT NULL DEFAULT 0,
    lat_02 BIGINT NOT NULL DEFAULT 0,
    lat_03 BIGINT NOT NULL DEFAULT 0,
    lat_04 BIGINT NOT NULL DEFAULT 0,
    lat_05 BIGINT NOT NULL DEFAULT 0,
    lat_06 BIGINT NOT NULL DEFAULT 0,
    lat_07 BIGINT NOT NULL DEFAULT 0,
    lat_08 BIGINT NOT NULL DEFAULT 0,
    lat_09 BIGINT NOT NULL DEFAULT 0,
    lat_10 BIGINT NOT NULL DEFAULT 0,
    lat_11 BIGINT NOT NULL DEFAULT 0,
    lat_12 BIGINT NOT NULL DEFAULT 0,
    lat_13 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, bucket, api_key_id, model, provider)
);
CREATE INDEX analytics_usage_day_by_bucket ON analytics_usage_day (bucket);
