-- nbo initial schema. Applied by nbo::store::Database::apply_migrations inside one
-- transaction together with its schema_migrations row; do not add BEGIN/COMMIT here.

-- The latest known features of each store customer, as the API's JSON object
-- (service_type, allow_messages, marketing_activity_6m, ...; see PRODUCT.md).
CREATE TABLE customers (
  customer_id TEXT PRIMARY KEY,
  features    TEXT NOT NULL,  -- JSON object of the API fields
  updated_at  TEXT NOT NULL   -- ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:34:56.789Z
);

-- One row per scoring request, written asynchronously by nbo::store::RequestLogWriter.
CREATE TABLE request_log (
  id            INTEGER PRIMARY KEY,
  request_id    TEXT NOT NULL,
  received_at   TEXT NOT NULL,  -- ISO-8601 UTC with milliseconds
  route         TEXT NOT NULL,  -- e.g. /predict
  customer_id   TEXT,           -- NULL for requests not about one customer
  model_name    TEXT,
  model_version TEXT,
  input         TEXT,           -- request body (JSON) as received
  output        TEXT,           -- response body (JSON) as sent
  status        INTEGER NOT NULL,  -- HTTP status code
  latency_ms    REAL NOT NULL      -- milliseconds from receipt to response
);

CREATE INDEX request_log_request_id ON request_log (request_id);
CREATE INDEX request_log_customer_id ON request_log (customer_id);
