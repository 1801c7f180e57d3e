-- Output limits of a key (issue 21): the output limit a request without max_tokens is reserved
-- and sent upstream with (NULL: the route's, then the gateway's), and a ceiling on
-- max_tokens x n of one request (NULL: the route's ceiling only).
ALTER TABLE api_keys
    ADD COLUMN default_max_tokens INTEGER CHECK (default_max_tokens > 0),
    ADD COLUMN max_output_tokens INTEGER CHECK (max_output_tokens > 0);
