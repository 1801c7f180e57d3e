-- How sure the semantic cache must be before it serves a paraphrase through this key:
-- 'strict' enforces every verification check, 'balanced' serves more paraphrases at a measured
-- cost in precision (docs/benchmarks.md).
ALTER TABLE api_keys
    ADD COLUMN cache_precision TEXT NOT NULL DEFAULT 'strict'
        CHECK (cache_precision IN ('strict', 'balanced'));
