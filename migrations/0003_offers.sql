-- The online school's next-best-offer data: the course catalog, users, their event log, every
-- offer made and the users' responses. Applied by nbo::store::Database::apply_migrations inside
-- one transaction together with its schema_migrations row; do not add BEGIN/COMMIT here.
-- Times in the *_time / *_at INTEGER columns are seconds since the Unix epoch, UTC.

CREATE TABLE school_courses (
  course_id       TEXT PRIMARY KEY,
  title           TEXT NOT NULL,
  direction       TEXT NOT NULL,
  level           INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
  price_rub       REAL NOT NULL CHECK (price_rub > 0),
  duration_months INTEGER NOT NULL CHECK (duration_months >= 1),
  active          INTEGER NOT NULL CHECK (active IN (0, 1)),
  updated_at      TEXT NOT NULL  -- ISO-8601 UTC with milliseconds
);

CREATE TABLE school_users (
  user_id       TEXT PRIMARY KEY,
  registered_at INTEGER NOT NULL,
  age_group     TEXT NOT NULL DEFAULT '',
  region        TEXT NOT NULL DEFAULT '',
  allow_email   INTEGER NOT NULL CHECK (allow_email IN (0, 1))
);

-- One row per event, in the documented small set of kinds (offers/domain.hpp):
-- 0 visit, 1 view, 2 trial, 3 cart, 4 purchase, 5 study.
CREATE TABLE school_events (
  id         INTEGER PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES school_users (user_id),
  event_time INTEGER NOT NULL,
  kind       INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 5),
  course_id  TEXT REFERENCES school_courses (course_id),
  amount_rub REAL
);
CREATE INDEX school_events_user_time ON school_events (user_id, event_time);

-- Every offer returned by POST /next-best-offer (replays with as_of are not recorded).
CREATE TABLE offer_log (
  offer_id      TEXT PRIMARY KEY,
  request_id    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  course_id     TEXT NOT NULL,
  channel       TEXT NOT NULL,
  rank          INTEGER NOT NULL,
  score         REAL NOT NULL,
  offered_at    INTEGER NOT NULL,
  model_version TEXT NOT NULL
);
CREATE INDEX offer_log_user_time ON offer_log (user_id, offered_at);

-- What the user did with an offer: opened, clicked, bought.
CREATE TABLE offer_responses (
  id           INTEGER PRIMARY KEY,
  offer_id     TEXT NOT NULL REFERENCES offer_log (offer_id),
  response     TEXT NOT NULL CHECK (response IN ('opened', 'clicked', 'bought')),
  responded_at INTEGER NOT NULL,
  recorded_at  TEXT NOT NULL  -- ISO-8601 UTC with milliseconds
);
CREATE INDEX offer_responses_offer ON offer_responses (offer_id);
