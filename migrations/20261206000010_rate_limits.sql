-- Rate limits (issue 21): a key's concurrency cap next to its rpm/tpm, and the same three for a
-- whole tenant (all of its keys together). NULL: the gateway's default, else unlimited.
ALTER TABLE api_keys ADD COLUMN max_concurrent INTEGER CHECK (max_concurrent > 0);
ALTER TABLE tenants
    ADD COLUMN rpm INTEGER CHECK (rpm > 0),
    ADD COLUMN tpm INTEGER CHECK (tpm > 0),
    ADD COLUMN max_concurrent INTEGER CHECK (max_concurrent > 0);
