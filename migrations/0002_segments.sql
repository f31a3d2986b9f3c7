-- The segment of each stored customer, for campaign lists (GET /campaigns/{segment_id}).
-- Written with the customer by PUT /customers/{id} when segments are loaded, and refreshed for
-- customers whose row was computed by another model set (a reload) or who have none (stored
-- before segments were loaded) the first time a campaign list is asked for.

CREATE TABLE customer_segments (
  customer_id    TEXT PRIMARY KEY REFERENCES customers (customer_id) ON DELETE CASCADE,
  scored_by      TEXT NOT NULL,     -- the model set: "<churn model version>+<segments version>"
  segment_id     TEXT NOT NULL,
  probability    REAL NOT NULL,     -- of an activity decline, by that churn model
  profit         REAL,              -- NULL when the customer has none on record
  value_at_risk  REAL,              -- probability x profit; NULL without profit
  allow_messages INTEGER,           -- 1 / 0; NULL when unknown
  contactable    INTEGER NOT NULL   -- 1 only when allow_messages is 1
);

-- Campaign lists: one segment (or all), contactable or not, by value at risk, highest first.
CREATE INDEX customer_segments_by_segment
  ON customer_segments (scored_by, segment_id, contactable, value_at_risk DESC, customer_id);
CREATE INDEX customer_segments_all
  ON customer_segments (scored_by, contactable, value_at_risk DESC, customer_id);
