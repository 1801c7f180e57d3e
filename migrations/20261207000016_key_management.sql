-- Keys that may manage their tenant's keys (granted by the operator only), and which key made
-- a key (so that revoking a leaked managing key can revoke what it made).
ALTER TABLE api_keys
    ADD COLUMN manage_keys boolean NOT NULL DEFAULT false,
    ADD COLUMN created_by_key_id uuid REFERENCES api_keys (id);

CREATE INDEX api_keys_created_by ON api_keys (created_by_key_id) WHERE created_by_key_id IS NOT NULL;
