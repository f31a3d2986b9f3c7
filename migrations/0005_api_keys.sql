-- API keys: who may call the service, and with which role (see include/nbo/auth/api_keys.hpp).
-- Only the SHA-256 of each key is stored; the key itself is shown once, when it is made.
-- Revoked keys stay, with the time of their revocation, so that the list remains an audit trail.

CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,      -- 16 lowercase hex characters, the public part of the key
  name        TEXT NOT NULL,         -- what the operator called it, e.g. crm-prod
  role        TEXT NOT NULL CHECK (role IN ('scorer', 'writer', 'admin')),
  key_sha256  TEXT NOT NULL UNIQUE,  -- 64 lowercase hex characters
  created_at  TEXT NOT NULL,         -- ISO-8601 UTC
  revoked_at  TEXT                   -- ISO-8601 UTC; NULL while the key is active
) WITHOUT ROWID;
