-- The balance feed publishes each key's spend with the stream sequence it reflects.
ALTER TABLE key_spend ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
