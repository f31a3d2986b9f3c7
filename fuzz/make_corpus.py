#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the
project's own fixtures and models. Rerun it when a fixture or a model format changes:
    python3 fuzz/make_corpus.py
The large model files are cut down (few rows, few trees, few courses) so that the fuzzer's
inputs stay small and fast; each cut-down file is still a valid model."""
import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def customers():
    return [json.loads((ROOT / "tests/fixtures/api" / f"customer_{i}.json").read_text())
            for i in ("215349", "215350")]


def predict_body():
    one, two = customers()
    write("predict_body", "single.json", json.dumps(one, ensure_ascii=False))
    write("predict_body", "single_2.json", json.dumps(two, ensure_ascii=False, indent=1))
    write("predict_body", "by_id.json", '{"customer_id": "215349"}')
    bad = dict(two["features"], promo_share=1.5, colour="red")
    write("predict_body", "batch.json", json.dumps(
        {"customers": [one, {"customer_id": "x"}, {"customer_id": "y", "features": bad},
                       {"features": {k: None for k in one["features"]}}]}, ensure_ascii=False))


def http(method, target, body=None, headers=()):
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost"]
    lines += list(headers)
    data = b""
    if body is not None:
        data = body.encode() if isinstance(body, str) else body
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def http_request():
    one, two = customers()
    c1 = json.dumps(one, ensure_ascii=False)
    seeds = {
        "predict.http": http("POST", "/predict", c1, ["X-Request-Id: fuzz-1"]),
        "predict_batch.http": http("POST", "/predict", json.dumps(
            {"customers": [one, two, {"customer_id": "215349"}]}, ensure_ascii=False)),
        "segment.http": http("POST", "/segment", c1),
        "customer_put_get.http": http("PUT", "/customers/215349",
                                      json.dumps({"features": one["features"]}, ensure_ascii=False))
        + http("GET", "/customers/215349") + http("POST", "/predict", '{"customer_id":"215349"}'),
        "operations.http": b"".join(http("GET", p) for p in
                                    ("/health", "/ready", "/models", "/metrics", "/segments")),
        "campaign.http": http("GET", "/campaigns/high_value_at_risk?limit=5"),
        "offers.http": http("PUT", "/courses/C1001", json.dumps(
            {"title": "Python (с нуля)", "direction": "programming", "level": 1,
             "price_rub": 25200, "duration_months": 3, "active": True}, ensure_ascii=False))
        + http("PUT", "/users/U1", '{"allow_email": true, "age_group": "25-34"}')
        + http("POST", "/users/U1/events", json.dumps({"events": [
            {"type": "course_view", "time": "2026-08-19T10:00:00Z", "course_id": "C1001"},
            {"type": "page_view", "time": "2026-08-19T10:06:00Z"}]}))
        + http("POST", "/next-best-offer", '{"user_id": "U1", "k": 3, "channel": "email"}')
        + http("POST", "/offers/of_1/response", '{"response": "clicked"}'),
        "reload.http": http("POST", "/admin/reload", ""),
        "chunked.http": b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n10\r\n{\"customer_id\": \r\n"
        b"9\r\n\"215349\"}\r\n0\r\n\r\n",
        "bad_target_http10.http": b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"
        + b"GET http://x/health?x=1 HTTP/1.0\r\n\r\n",
        "method_not_allowed.http": http("DELETE", "/predict") + http("GET", "/nope"),
    }
    for name, data in seeds.items():
        write("http_request", name, data)


def churn_model():
    shutil.copy(ROOT / "tests/fixtures/models/valid_logistic.json",
                CORPUS / "churn_model" / "logistic.json")
    model = json.loads((ROOT / "models/churn.json").read_text())
    estimator = model["estimator"]
    keep = 40
    estimator["rows"] = estimator["rows"][:keep]
    estimator["labels"] = estimator["labels"][:keep]
    estimator["k"] = min(estimator["k"], 5)
    write("churn_model", "neighbors.json", json.dumps(model, ensure_ascii=False))

    # The other estimator types on the logistic fixture's pipeline (docs/model-format.md).
    base = json.loads((ROOT / "tests/fixtures/models/valid_logistic.json").read_text())
    columns = [c["column"] for c in base["estimator"]["coefficients"]]
    logistic = base["estimator"]
    tree = {"left": [1, -1, 3, -1, -1], "right": [2, -1, 4, -1, -1], "feature": [2, -1, 7, -1, -1],
            "threshold": [0.5, 0.0, -1.25, 0.0, 0.0], "value": [0.0, -0.4, 0.0, 0.3, 0.9],
            "cover": [10.0, 4.0, 6.0, 2.5, 3.5]}
    trees = {"type": "tree_ensemble", "kind": "gradient_boosting", "base_margin": -0.2,
             "columns": columns, "trees": [tree, dict(tree, feature=[0, -1, 6, -1, -1])]}
    svc = {"type": "support_vector_classifier", "gamma": 0.1, "bias": -0.3, "columns": columns,
           "column_means": [0.0] * len(columns), "coefficients": [0.8, -0.5],
           "support_vectors": [[0.5] * len(columns), [-0.5] * len(columns)]}
    ensemble = {"type": "ensemble", "members": [
        {"name": "logistic", "weight": 0.5, "calibration": {"slope": 1.0, "offset": 0.0},
         "estimator": logistic},
        {"name": "trees", "weight": 0.5, "calibration": {"slope": 0.9, "offset": 0.1},
         "estimator": trees}]}
    for name, estimator in (("trees", trees), ("svc", svc), ("ensemble", ensemble)):
        write("churn_model", f"{name}.json", json.dumps(dict(base, estimator=estimator),
                                                        ensure_ascii=False))


def segments_model():
    shutil.copy(ROOT / "models/segments.json", CORPUS / "segments_model" / "segments.json")


def offers_model():
    model = json.loads((ROOT / "models/offers.json").read_text())
    for part in ("candidate", "propensity"):
        model[part]["estimator"]["trees"] = model[part]["estimator"]["trees"][:2]
    market = model["market"]
    kept = set(market["popular"][:8])
    market["popular"] = market["popular"][:8]
    market["courses"] = [c for c in market["courses"] if c["course_id"] in kept]
    for pairs in ("co_purchase", "touch_purchase"):
        market[pairs] = [p for p in market[pairs] if p[0] in kept and p[1] in kept][:20]
    write("offers_model", "offers.json", json.dumps(model, ensure_ascii=False))


def csv():
    for kind in ("clean", "quirks"):
        for path in sorted((ROOT / "tests/fixtures/market" / kind).glob("*.csv")):
            # The first byte picks the options (fuzz_csv.cpp): 0 detects the delimiter.
            write("csv", f"{kind}_{path.name}", b"\x00" + path.read_bytes())
    for path in sorted((ROOT / "tests/fixtures/score").glob("*.csv")):
        write("csv", f"score_{path.name}", b"\x00" + path.read_bytes())
    # ',' given, an "id" column required.
    write("csv", "quoted.csv", b"\x09" + b'id,"na;me"\r\n1,"a ""b"" \r\nc"\n2,x\n\n')


def market_import():
    names = ("market_file.csv", "market_money.csv", "market_time.csv", "money.csv")
    for kind in ("clean", "quirks"):
        parts = [(ROOT / "tests/fixtures/market" / kind / n).read_bytes() for n in names]
        write("market_import", f"{kind}.bin", b"\x00".join(parts))


def school_import():
    # The offers tests' small export (tests/offers/offers_fixture.hpp), CRLF like the real one.
    def crlf(lines):
        return "".join(line + "\r\n" for line in lines)
    courses = crlf(["course_id,title,direction,level,price_rub,duration_months,active",
                    "C1001,Python (с нуля),programming,1,25200,3,1",
                    "C1002,Python (продвинутый),programming,2,69200,4,1",
                    "C1003,Python (профессия),programming,3,142300,7,1",
                    "C1010,Дизайн (с нуля),design,1,20000,3,1",
                    "C1012,DevOps (с нуля),programming,1,30000,3,0"])
    users = crlf(["user_id,registered_at,age_group,region,allow_email",
                  "U1,2025-09-01,25-34,Москва,1", "U2,2025-09-02,18-24,Казань,0",
                  "U3,2025-09-03,35-44,другой,1"])
    events = ["event_id,user_id,event_time,event_type,course_id,amount_rub",
              "0,U1,2025-09-01 10:00:00,page_view,,",
              "1,U1,2025-09-01 10:01:00,course_view,C1001,",
              "2,U1,2025-09-01 10:05:00,free_lesson,C1001,",
              "3,U2,2025-09-02 11:00:00,course_view,C1010,",
              "4,U1,2025-09-02 09:00:00,add_to_cart,C1001,",
              "5,U1,2025-09-02 09:05:00,purchase,C1001,25200",
              "6,U1,2025-09-03 09:00:00,lesson_completed,C1001,",
              "7,U3,2025-09-04 12:00:00,webinar,C1002,",
              "8,U2,2026-08-30 12:00:00,course_view,C1001,"]
    write("school_import", "clean.bin", "\0".join([courses, users, crlf(events)]))
    # The export's known defects: a duplicate row, a stray 9 in a course id, a purchase after
    # the first lesson, an event without a user, one after the export's year.
    defects = events + ["5,U1,2025-09-02 09:05:00,purchase,C1001,25200",
                        "9,U3,2025-09-05 12:00:00,course_view,C91002,",
                        "10,U3,2025-09-06 12:00:00,lesson_completed,C1003,",
                        "11,U3,2025-09-07 12:00:00,purchase,C1003,142300",
                        "12,,2025-09-07 12:00:00,page_view,,",
                        "13,U2,2027-01-01 00:00:00,page_view,,"]
    write("school_import", "defects.bin", "\0".join([courses, users, crlf(defects)]))


if __name__ == "__main__":
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for target in ("churn_model", "segments_model"):
        (CORPUS / target).mkdir(parents=True)
    for make in (predict_body, http_request, churn_model, segments_model, offers_model, csv,
                 market_import, school_import):
        make()
