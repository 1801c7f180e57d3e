-- Response cache policy per tenant and per key. A key's NULL cache_mode inherits its tenant's.

ALTER TABLE tenants
    ADD COLUMN cache_mode TEXT NOT NULL DEFAULT 'off' CHECK (cache_mode IN ('off', 'exact', 'semantic')),
    ADD COLUMN cache_ttl_seconds INTEGER CHECK (cache_ttl_seconds > 0);

ALTER TABLE api_keys
    ALTER COLUMN cache_mode DROP NOT NULL,
    ALTER COLUMN cache_mode DROP DEFAULT,
    -- Similarity a semantic candidate needs (NULL: the gateway's default).
    ADD COLUMN cache_threshold REAL CHECK (cache_threshold > 0 AND cache_threshold <= 1),
    -- How long answers stored through this key are served (NULL: the tenant's, then the gateway's).
    ADD COLUMN cache_ttl_seconds INTEGER CHECK (cache_ttl_seconds > 0),
    -- Serve semantic hits whatever the request's temperature.
    ADD COLUMN cache_any_temperature BOOLEAN NOT NULL DEFAULT false;
