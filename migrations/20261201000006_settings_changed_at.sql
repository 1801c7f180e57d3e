-- When a key's or a tenant's settings last changed, so every gateway reloads the keys it has
-- cached from before the change (within a poll interval) instead of waiting out its key cache.

ALTER TABLE api_keys ADD COLUMN settings_changed_at TIMESTAMPTZ;
ALTER TABLE tenants ADD COLUMN settings_changed_at TIMESTAMPTZ;

CREATE INDEX api_keys_by_settings_change ON api_keys (settings_changed_at)
    WHERE settings_changed_at IS NOT NULL;
CREATE INDEX tenants_by_settings_change ON tenants (settings_changed_at)
    WHERE settings_changed_at IS NOT NULL;
