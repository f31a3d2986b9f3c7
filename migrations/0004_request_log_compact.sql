-- The request log keeps what an audit needs in compact columns instead of each request's and
-- answer's JSON: a row takes about 120 bytes of the file with its indexes instead of about
-- 2 KB, so the writer keeps up with batch traffic. The request body is kept only when the
-- server runs with --request-log-input.
-- Rows of the earlier layout are carried over; their probability and band are read from the
-- answer they stored.

CREATE TABLE request_log_compact (
  id             INTEGER PRIMARY KEY,
  request_id     TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL,  -- milliseconds since 1970-01-01T00:00:00Z
  route          TEXT NOT NULL,     -- e.g. /predict
  customer_id    TEXT,              -- NULL for requests not about one customer
  model_version  TEXT,
  probability    REAL,              -- the answered probability; NULL when none
  band           TEXT,              -- the answered risk band; NULL when none
  status         INTEGER NOT NULL,  -- HTTP status code
  latency_us     INTEGER NOT NULL,  -- microseconds from receipt to the answer
  input          TEXT               -- the request's customer (JSON) with --request-log-input
);

INSERT INTO request_log_compact (id, request_id, received_at_ms, route, customer_id,
                                 model_version, probability, band, status, latency_us, input)
SELECT id, request_id,
       CAST(round((julianday(received_at) - 2440587.5) * 86400000.0) AS INTEGER),
       route, customer_id, model_version,
       CASE WHEN json_valid(output) THEN json_extract(output, '$.probability') END,
       CASE WHEN json_valid(output) THEN json_extract(output, '$.risk_band') END,
       status, CAST(round(latency_ms * 1000.0) AS INTEGER), input
FROM request_log;

DROP TABLE request_log;
ALTER TABLE request_log_compact RENAME TO request_log;
CREATE INDEX request_log_request_id ON request_log (request_id);
CREATE INDEX request_log_customer_id ON request_log (customer_id);
