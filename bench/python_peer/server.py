"""The Python peer of nbo's POST /predict: FastAPI + uvicorn (2 workers) + scikit-learn.

What a competent Python team would write for the same job (see README.md):
  uvicorn --app-dir bench/python_peer server:app --workers 2 --loop uvloop --http httptools
Environment:
  PEER_MODEL_PICKLE  a model trained by `model.py --out` (both workers load the same file);
                     without it each worker trains PEER_MODEL (logistic | knn) from PEER_DATA
  PEER_DB_PATH       the SQLite request log (default /tmp/nbo-python-peer.db), WAL mode; each
                     worker writes its own file, PATH's stem + .worker-PID.db (PEER_DB_SHARED=1:
                     one file for all, see _db_path)
  PEER_READY_FILE    optional: each worker appends "ready <pid>" once it serves
  PEER_MAX_BATCH     most customers in one batch (default 10000, as nbo)

POST /predict takes nbo's bodies: `{"customer_id", "features"}` or `{"customers": [...]}`.
Answers: probability, label, risk_band, threshold, 3 reasons, model name/version; a batch is
`{"failed", "model", "request_id", "results", "scored"}` with a per-item error for a bad item.
Each scored customer is one row of `request_log`, written in one transaction per request
(executemany), before the answer. Errors: `{"error": {"code", "message", "field"}, "request_id"}`.
"""
from __future__ import annotations

import os

# One thread per worker process for the numeric libraries: the workers are the parallelism, and
# scikit-learn's OpenMP k-NN search (and BLAS) would otherwise start one thread per core in each
# worker and spin against the other worker (measured: k-NN batches 7x slower on 2 cores).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
import math
import pickle
import sqlite3
import time
import uuid

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response

import model as peer_model
from model import MODEL_FIELDS, Invalid, validate_features

MAX_BATCH = int(os.environ.get("PEER_MAX_BATCH", "10000"))
MAX_BODY = 64 << 20


def _load_model() -> peer_model.PeerModel:
    path = os.environ.get("PEER_MODEL_PICKLE")
    if path:
        with open(path, "rb") as f:
            return pickle.load(f)
    data = os.environ.get("PEER_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data/market"))
    return peer_model.train(data, os.environ.get("PEER_MODEL", "logistic"))


MODEL = _load_model()
MODEL_INFO = {"name": "churn", "version": MODEL.version}
MODEL_INFO_JSON = json.dumps(MODEL_INFO, ensure_ascii=False)
FIELD_NAMES = np.array(MODEL_FIELDS)


def _db_path() -> str:
    # One file per worker process by default: two processes writing one SQLite file wait on each
    # other's write lock, and SQLite's busy handler sleeps 1, 2, 5, 10... ms while the worker's
    # event loop stands still (measured: a shared file left the logistic peer at under 1 core).
    # PEER_DB_SHARED=1 keeps one file for all workers.
    path = os.environ.get("PEER_DB_PATH", "/tmp/nbo-python-peer.db")
    if os.environ.get("PEER_DB_SHARED") == "1":
        return path
    root, ext = os.path.splitext(path)
    return f"{root}.worker-{os.getpid()}{ext or '.db'}"


def _open_db() -> sqlite3.Connection:
    db = sqlite3.connect(_db_path(),
                         isolation_level=None, check_same_thread=False, timeout=10.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: survives a process crash
    db.execute("PRAGMA busy_timeout=10000")  # the two workers share the file
    db.execute("BEGIN IMMEDIATE")
    db.execute("""CREATE TABLE IF NOT EXISTS request_log (
        id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, ts REAL NOT NULL, route TEXT NOT NULL,
        customer_id TEXT, model_version TEXT NOT NULL, probability REAL, risk_band TEXT,
        status INTEGER NOT NULL, latency_us INTEGER NOT NULL)""")
    db.execute("CREATE INDEX IF NOT EXISTS request_log_request ON request_log(request_id)")
    db.execute("CREATE INDEX IF NOT EXISTS request_log_customer ON request_log(customer_id)")
    db.execute("COMMIT")
    return db


DB = _open_db()
INSERT = ("INSERT INTO request_log (request_id, ts, route, customer_id, model_version, "
          "probability, risk_band, status, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

app = FastAPI(title="nbo python peer", openapi_url=None, docs_url=None, redoc_url=None)


@app.on_event("startup")
def _announce() -> None:
    ready_file = os.environ.get("PEER_READY_FILE")
    if ready_file:
        with open(ready_file, "a") as f:
            f.write(f"ready {os.getpid()}\n")


def _json(payload, status: int, request_id: str) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
                    status_code=status, media_type="application/json",
                    headers={"X-Request-Id": request_id})


def _error(status: int, code: str, field: str, message: str, request_id: str) -> Response:
    return _json({"error": {"code": code, "message": message, "field": field},
                  "request_id": request_id}, status, request_id)


def _item(item, path: str):
    """(customer_id, raw row) of one request item, or raises Invalid."""
    if not isinstance(item, dict):
        raise Invalid("invalid_type", path or "body", "a customer must be an object")
    prefix = f"{path}." if path else ""
    for key in item:
        if key not in ("customer_id", "features"):
            raise Invalid("unknown_field", prefix + key, f"unknown field '{key}'")
    customer_id = item.get("customer_id")
    if customer_id is not None and not isinstance(customer_id, str):
        raise Invalid("invalid_type", prefix + "customer_id", "'customer_id' must be a string")
    if "features" not in item:  # nbo would read the stored features; the peer has no store
        raise Invalid("missing_field", prefix + "features", "'features' is required")
    return customer_id, validate_features(item["features"], prefix + "features")


def _predictions(raw: np.ndarray):
    """Scores rows (n, 22): probabilities, bands, and each row's 3 reasons, vectorised."""
    prob, contributions = MODEL.score(raw)
    top = np.argsort(-np.abs(contributions), axis=1)[:, :3]
    top_values = np.take_along_axis(contributions, top, axis=1)
    band = np.where(prob < MODEL.band_low, "low", np.where(prob < MODEL.band_high, "medium", "high"))
    return prob.tolist(), band.tolist(), top.tolist(), top_values.tolist()


def _raw_value(features: dict, name: str):
    value = features[name]
    return peer_model.ALIASES[name].get(value, value) if name in peer_model.ALIASES else value


@app.get("/ready")
def ready() -> Response:
    return Response(b'{"status":"ready"}', media_type="application/json")


@app.get("/health")
def health() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@app.post("/predict")
async def predict(request: Request) -> Response:
    started = time.perf_counter()
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "body_too_large", "", "request body too large", request_id)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        return _error(400, "invalid_json", "", f"body is not JSON: {e}", request_id)
    batch = isinstance(document, dict) and "customers" in document
    if batch:
        items = document["customers"]
        if len(document) != 1:
            extra = next(k for k in document if k != "customers")
            return _error(422, "unknown_field", extra, f"unknown field '{extra}'", request_id)
        if not isinstance(items, list):
            return _error(422, "invalid_type", "customers", "'customers' must be an array", request_id)
        if not items:
            return _error(422, "invalid_value", "customers", "'customers' must not be empty", request_id)
        if len(items) > MAX_BATCH:
            return _error(413, "batch_too_large", "customers",
                          f"at most {MAX_BATCH} customers per request", request_id)
    else:
        items = [document]

    ids, rows, errors = [], [], {}
    for i, item in enumerate(items):
        try:
            customer_id, row = _item(item, f"customers[{i}]" if batch else "")
        except Invalid as e:
            errors[i] = e
            ids.append(item.get("customer_id") if isinstance(item, dict) else None)
            continue
        ids.append(customer_id)
        rows.append(row)
    if not batch and errors:
        e = errors[0]
        return _error(422, e.code, e.field, e.message, request_id)

    results = []
    log_rows = []
    now = time.time()
    if rows:
        prob, band, top, top_values = _predictions(np.array(rows))
    scored = 0
    for i, item in enumerate(items):
        if i in errors:
            e = errors[i]
            results.append({"customer_id": ids[i], "error": {"code": e.code, "field": e.field,
                                                              "message": e.message}, "status": 422})
            continue
        p = prob[scored]
        features = item["features"]
        reasons = [{"contribution": c, "direction": "raises_risk" if c > 0 else "lowers_risk",
                    "feature": MODEL_FIELDS[f], "value": _raw_value(features, MODEL_FIELDS[f])}
                   for f, c in zip(top[scored], top_values[scored])]
        results.append({"customer_id": ids[i], "label": p >= MODEL.threshold, "model": MODEL_INFO,
                        "probability": p, "reasons": reasons, "risk_band": band[scored],
                        "threshold": MODEL.threshold})
        log_rows.append((request_id, now, "/predict", ids[i], MODEL.version, p, band[scored], 200))
        scored += 1

    latency_us = int((time.perf_counter() - started) * 1e6)
    if log_rows:  # one transaction per request; the answer waits for it
        DB.execute("BEGIN")
        try:
            DB.executemany(INSERT, [r + (latency_us,) for r in log_rows])
            DB.execute("COMMIT")
        except sqlite3.Error as e:
            DB.execute("ROLLBACK")
            return _error(503, "storage_unavailable", "", f"request log: {e}", request_id)
    if not batch:
        return _json(results[0], 200, request_id)
    return _json({"failed": len(errors), "model": MODEL_INFO, "request_id": request_id,
                  "results": results, "scored": scored}, 200, request_id)
