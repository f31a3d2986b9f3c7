-- The request log keeps what belongs to a request once per request, and what belongs to a scored
-- customer once per customer: a batch of 100 customers stored its request id, time, route, model
-- version, status and latency 100 times, and indexed its request id 100 times. Split, a batch
-- row takes about a third of the file and of the writer's work per customer.
--
-- request_log, the view below, still answers with one row per scored customer and the same
-- columns as before, so audit queries read as they did:
--   SELECT * FROM request_log WHERE customer_id = '215349' ORDER BY id;
--   SELECT * FROM request_log WHERE request_id = '...';
-- It is read-only: the server's writer inserts into the two tables.

CREATE TABLE request_log_requests (
  id             INTEGER PRIMARY KEY,
  request_id     TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL,  -- milliseconds since 1970-01-01T00:00:00Z
  route          TEXT NOT NULL,     -- e.g. /predict
  model_version  TEXT,
  status         INTEGER NOT NULL,  -- HTTP status code
  latency_us     INTEGER NOT NULL,  -- microseconds from receipt to the answer
  -- Its customers are the rows of request_log_customers with ids from first_customer to
  -- last_customer (the writer gives a request's customers consecutive ids), so a request's
  -- customers are found by a range of ids, without another index.
  first_customer INTEGER NOT NULL,
  last_customer  INTEGER NOT NULL
);

CREATE TABLE request_log_customers (
  id          INTEGER PRIMARY KEY,
  request     INTEGER NOT NULL,  -- request_log_requests.id
  customer_id TEXT,              -- NULL for requests not about one customer
  probability REAL,              -- the answered probability; NULL when none
  band        TEXT,              -- the answered risk band; NULL when none
  input       TEXT               -- the request's customer (JSON) with --request-log-input
);

-- Rows of the earlier layout become one request each, with the same ids.
INSERT INTO request_log_requests (id, request_id, received_at_ms, route, model_version, status,
                                  latency_us, first_customer, last_customer)
SELECT id, request_id, received_at_ms, route, model_version, status, latency_us, id, id
FROM request_log;

INSERT INTO request_log_customers (id, request, customer_id, probability, band, input)
SELECT id, id, customer_id, probability, band, input
FROM request_log;

DROP TABLE request_log;

CREATE INDEX request_log_requests_request_id ON request_log_requests (request_id);
CREATE INDEX request_log_customers_customer_id ON request_log_customers (customer_id);

CREATE VIEW request_log AS
SELECT c.id AS id, r.request_id AS request_id, r.received_at_ms AS received_at_ms,
       r.route AS route, c.customer_id AS customer_id, r.model_version AS model_version,
       c.probability AS probability, c.band AS band, r.status AS status,
       r.latency_us AS latency_us, c.input AS input
FROM request_log_requests r
JOIN request_log_customers c
  ON c.request = r.id AND c.id BETWEEN r.first_customer AND r.last_customer;
