"""The Python peer's model side: the store export -> feature rows -> a scikit-learn model.

Reproduces nbo's feature pipeline (include/nbo/features/, src/features/, src/train/market_export.cpp):
the 16 model fields of PRODUCT.md in nbo's column order, `service_type` and `popular_category`
one-hot (0/1, levels in nbo's order), `allow_messages` 0/1, the other 13 numeric; numeric columns
standardised with the training mean and population standard deviation, one-hot columns left 0/1
(22 columns, the same as nbo's models/churn.json). Ingestion follows nbo's policy: known
misspellings fixed, customers with a zero-revenue month or a monthly revenue above 100 000
excluded, customers missing a file's row excluded; 1296 of the 1300 customers are kept.

Two models (MODEL below): `logistic` (LogisticRegression, L2, C chosen by 5-fold CV on ROC-AUC;
the analogue of nbo's `--candidate logistic_l2`) and `knn` (KNeighborsClassifier, distance
weighted, k chosen the same way; the analogue of nbo's default kernel_neighbors). The decision
threshold maximises F1 of "declined" on 5-fold out-of-fold probabilities, and the risk bands are
where an isotonic fit of the out-of-fold decline rate crosses 20 % and 70 %, as nbo's trainer does.
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, field

import numpy as np

SERVICE_TYPES = ["стандарт", "премиум"]
CATEGORIES = [
    "Товары для детей",
    "Домашний текстиль",
    "Косметика и аксесуары",
    "Техника для красоты и здоровья",
    "Мелкая бытовая техника и электроника",
    "Кухонная посуда",
]
ALIASES = {
    "service_type": {"стандартт": "стандарт"},
    "popular_category": {"Косметика и аксессуары": "Косметика и аксесуары"},
}
# API field -> (kind, min, max). Kinds: cat, bool, num (any finite number), int (whole number).
INF = math.inf
FIELDS = {
    "service_type": ("cat", None, None),
    "allow_messages": ("bool", 0, 1),
    "marketing_activity_6m": ("num", 0, INF),
    "marketing_activity_current": ("int", 0, INF),
    "tenure_days": ("int", 0, INF),
    "promo_share": ("num", 0, 1),
    "popular_category": ("cat", None, None),
    "avg_categories_per_visit": ("int", 0, INF),
    "unpaid_items_quarter": ("int", 0, INF),
    "service_errors": ("int", 0, INF),
    "pages_per_visit": ("int", 0, INF),
    "revenue_2_months_ago": ("num", 0, INF),
    "revenue_last_month": ("num", 0, INF),
    "revenue_this_month": ("num", 0, INF),
    "minutes_last_month": ("int", 0, INF),
    "minutes_this_month": ("int", 0, INF),
    "profit": ("num", -INF, INF),  # not a model input (segments only in nbo)
}
MODEL_FIELDS = [name for name in FIELDS if name != "profit"]  # nbo's spec order
LEVELS = {"service_type": SERVICE_TYPES, "popular_category": CATEGORIES}

# Columns: per model field, one column or one per level (nbo's Pipeline column order).
COLUMNS: list[str] = []
COLUMN_FIELD: list[int] = []
for _f, _name in enumerate(MODEL_FIELDS):
    if _name in LEVELS:
        for _level in LEVELS[_name]:
            COLUMNS.append(f"{_name}={_level}")
            COLUMN_FIELD.append(_f)
    else:
        COLUMNS.append(_name)
        COLUMN_FIELD.append(_f)
N_COLUMNS = len(COLUMNS)  # 22
# Where each field's value lands in a row: (field, kind, column, level index map).
ONE_HOT = np.array([c.find("=") > 0 for c in COLUMNS])
# Columns -> fields (sums a field's one-hot columns into one figure): (22, 16).
FIELD_OF_COLUMN = np.zeros((N_COLUMNS, len(MODEL_FIELDS)))
FIELD_OF_COLUMN[np.arange(N_COLUMNS), COLUMN_FIELD] = 1.0

_PLAN = []  # (name, kind, column, {level: offset})
for _name in MODEL_FIELDS:
    _col = COLUMNS.index(_name if _name not in LEVELS else f"{_name}={LEVELS[_name][0]}")
    _PLAN.append((_name, FIELDS[_name][0], _col,
                  {lvl: i for i, lvl in enumerate(LEVELS.get(_name, []))}))


class Invalid(Exception):
    """A customer the rules reject; code and field as nbo names them."""

    def __init__(self, code: str, field: str, message: str):
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


def validate_features(features, path: str = "features") -> list[float]:
    """Checks one `features` object (nbo's rules: known fields, JSON types, ranges, categories,
    every model field present) and returns its raw row (22 floats, one-hot expanded)."""
    if not isinstance(features, dict):
        raise Invalid("invalid_type", path, "'features' must be an object")
    for key in features:
        if key not in FIELDS:
            raise Invalid("unknown_field", f"{path}.{key}", f"unknown feature '{key}'")
    row = [0.0] * N_COLUMNS
    for name, kind, col, levels in _PLAN:
        if name not in features:
            raise Invalid("missing_field", f"{path}.{name}",
                          f"field '{name}' is required by the model")
        value = features[name]
        if kind == "cat":
            if not isinstance(value, str):
                raise Invalid("invalid_type", f"{path}.{name}", f"field '{name}' must be a string")
            value = ALIASES[name].get(value, value)
            offset = levels.get(value)
            if offset is None:
                raise Invalid("unknown_category", f"{path}.{name}",
                              f"field '{name}' has unknown value \"{value}\"")
            row[col + offset] = 1.0
        elif kind == "bool":
            if not isinstance(value, bool):
                raise Invalid("invalid_type", f"{path}.{name}", f"field '{name}' must be a boolean")
            row[col] = 1.0 if value else 0.0
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Invalid("invalid_type", f"{path}.{name}", f"field '{name}' must be a number")
            if not math.isfinite(value):
                raise Invalid("invalid_value", f"{path}.{name}", f"field '{name}' must be finite")
            if kind == "int" and value != int(value):
                raise Invalid("invalid_type", f"{path}.{name}", f"field '{name}' must be an integer")
            lo, hi = FIELDS[name][1], FIELDS[name][2]
            if value < lo or value > hi:
                raise Invalid("out_of_range", f"{path}.{name}",
                              f"field '{name}' must be in [{lo}, {hi}], got {value}")
            row[col] = float(value)
    profit = features.get("profit")
    if profit is not None and (isinstance(profit, bool) or not isinstance(profit, (int, float))):
        raise Invalid("invalid_type", f"{path}.profit", "field 'profit' must be a number")
    return row


# ---------------------------------------------------------------- ingestion of the export
def _read(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    delimiter = ";" if ";" in text.split("\n", 1)[0] else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    return rows[0], rows[1:]


def _number(text: str) -> float:
    return float(text.strip().replace(",", "."))


def load_export(data_dir: str):
    """Returns (ids, raw rows (n, 22), labels (n,), report lines, fingerprint)."""
    names = ["market_file.csv", "market_money.csv", "market_time.csv", "money.csv"]
    digest = hashlib.sha256()
    for name in names:
        blob = open(os.path.join(data_dir, name), "rb").read()
        digest.update(f"{name}\n{len(blob)}\n".encode() + blob)
    header, rows = _read(os.path.join(data_dir, "market_file.csv"))
    col = {h: i for i, h in enumerate(header)}
    excluded: set[str] = set()
    fixes: dict[str, int] = {}
    customers: dict[str, dict] = {}
    labels: dict[str, int] = {}
    source = {
        "service_type": "Тип сервиса", "allow_messages": "Разрешить сообщать",
        "marketing_activity_6m": "Маркет_актив_6_мес",
        "marketing_activity_current": "Маркет_актив_тек_мес", "tenure_days": "Длительность",
        "promo_share": "Акционные_покупки", "popular_category": "Популярная_категория",
        "avg_categories_per_visit": "Средний_просмотр_категорий_за_визит",
        "unpaid_items_quarter": "Неоплаченные_продукты_штук_квартал",
        "service_errors": "Ошибка_сервиса", "pages_per_visit": "Страниц_за_визит",
    }
    for r in rows:
        if not r or not r[col["id"]].strip():
            continue
        cid = r[col["id"]].strip()
        label = r[col["Покупательская активность"]]
        if label not in ("Снизилась", "Прежний уровень"):
            excluded.add(cid)
            continue
        labels[cid] = 1 if label == "Снизилась" else 0
        c = {}
        for name, column in source.items():
            raw = r[col[column]].strip()
            kind = FIELDS[name][0]
            if kind == "cat":
                fixed = ALIASES[name].get(raw, raw)
                if fixed != raw:
                    fixes[f"{name} '{raw}' -> '{fixed}'"] = fixes.get(f"{name} '{raw}' -> '{fixed}'", 0) + 1
                c[name] = fixed
            elif kind == "bool":
                if raw not in ("да", "нет"):
                    excluded.add(cid)
                c[name] = raw == "да"
            else:
                try:
                    v = _number(raw)
                    c[name] = int(v) if kind == "int" and v == int(v) else v
                except ValueError:
                    excluded.add(cid)
        customers[cid] = c
    periods = {"препредыдущий_месяц": "revenue_2_months_ago", "предыдущий_месяц": "revenue_last_month",
               "предыдцщий_месяц": "revenue_last_month", "текущий_месяц": "revenue_this_month"}
    _, money_rows = _read(os.path.join(data_dir, "market_money.csv"))
    for cid, period, value in ((r[0].strip(), r[1].strip(), r[2]) for r in money_rows if r):
        v = _number(value)
        if cid in customers and period in periods:
            if v == 0.0 or v > 100000.0:
                excluded.add(cid)
            customers[cid][periods[period]] = v
    time_periods = {"предыдущий_месяц": "minutes_last_month", "предыдцщий_месяц": "minutes_last_month",
                    "текущий_месяц": "minutes_this_month"}
    _, time_rows = _read(os.path.join(data_dir, "market_time.csv"))
    for cid, period, value in ((r[0].strip(), r[1].strip(), r[2]) for r in time_rows if r):
        if cid in customers and period in time_periods:
            customers[cid][time_periods[period]] = int(_number(value))
    _, profit_rows = _read(os.path.join(data_dir, "money.csv"))
    profits = {r[0].strip(): _number(r[1]) for r in profit_rows if r}
    ids, rows_out, y = [], [], []
    for cid in sorted(customers, key=lambda s: (len(s), s)):
        c = customers[cid]
        if cid in excluded or cid not in profits:
            continue
        c["profit"] = profits[cid]
        try:
            rows_out.append(validate_features(c))
        except Invalid:
            excluded.add(cid)
            continue
        ids.append(cid)
        y.append(labels[cid])
    report = [f"market export: {len(customers)} customers read, {len(ids)} kept, "
              f"{len(customers) - len(ids)} excluded"] + [f"  fix: {k}: {n}" for k, n in fixes.items()]
    return ids, np.array(rows_out), np.array(y), report, "sha256:" + digest.hexdigest()


# ---------------------------------------------------------------- the model
@dataclass
class PeerModel:
    kind: str                 # "logistic" | "knn"
    version: str
    center: np.ndarray        # (22,) 0 for one-hot columns
    scale: np.ndarray         # (22,) 1 for one-hot columns
    estimator: object         # fitted LogisticRegression | KNeighborsClassifier, on standardised rows
    threshold: float
    band_low: float           # p < band_low: "low"
    band_high: float          # p >= band_high: "high"
    coef: np.ndarray | None = None       # logistic: (22,)
    intercept: float = 0.0
    direction: np.ndarray | None = None  # knn: (22,) declined-minus-kept class means, standardised
    info: dict = field(default_factory=dict)

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        return (raw - self.center) / self.scale

    def score(self, raw: np.ndarray):
        """raw: (n, 22) -> probabilities (n,), per-field contributions (n, 16)."""
        z = (raw - self.center) / self.scale
        if self.kind == "logistic":
            per_column = z * self.coef
            margin = per_column.sum(axis=1) + self.intercept
            prob = 1.0 / (1.0 + np.exp(-margin))
        else:
            prob = self.estimator.predict_proba(z)[:, 1]
            per_column = z * self.direction
        return prob, per_column @ FIELD_OF_COLUMN


def train(data_dir: str, kind: str, seed: int = 42) -> PeerModel:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, roc_auc_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    started = time.perf_counter()
    ids, raw, y, report, fingerprint = load_export(data_dir)
    center = np.where(ONE_HOT, 0.0, raw.mean(axis=0))
    scale = np.where(ONE_HOT, 1.0, raw.std(axis=0))
    z = (raw - center) / scale
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    if kind == "logistic":
        search = GridSearchCV(LogisticRegression(penalty="l2", max_iter=2000),
                              {"C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]},
                              scoring="roc_auc", cv=folds)
    elif kind == "knn":
        search = GridSearchCV(KNeighborsClassifier(weights="distance", algorithm="brute"),
                              {"n_neighbors": [5, 9, 15, 25, 35, 51, 75, 101]}, scoring="roc_auc", cv=folds)
    else:
        raise ValueError(f"unknown model kind {kind!r} (logistic or knn)")
    search.fit(z, y)
    best = search.best_estimator_
    oof = cross_val_predict(best, z, y, cv=folds, method="predict_proba")[:, 1]
    candidates = np.unique(oof)
    f1s = [f1_score(y, oof >= t) for t in candidates]
    threshold = float(candidates[int(np.argmax(f1s))])
    iso = IsotonicRegression(out_of_bounds="clip").fit(oof, y)
    grid = np.linspace(0, 1, 10001)
    rate = iso.predict(grid)
    band_low = float(grid[np.argmax(rate >= 0.2)]) if (rate >= 0.2).any() else 0.2
    band_high = float(grid[np.argmax(rate >= 0.7)]) if (rate >= 0.7).any() else 0.7
    declined_mean = z[y == 1].mean(axis=0)
    kept_mean = z[y == 0].mean(axis=0)
    model = PeerModel(
        kind=kind, version=f"{fingerprint[7:19]}-seed{seed}-sklearn_{kind}",
        center=center, scale=scale, estimator=best, threshold=threshold,
        band_low=band_low, band_high=band_high,
        coef=best.coef_[0].copy() if kind == "logistic" else None,
        intercept=float(best.intercept_[0]) if kind == "logistic" else 0.0,
        direction=(declined_mean - kept_mean) if kind == "knn" else None,
        info={"customers": len(ids), "declined": int(y.sum()), "best_params": search.best_params_,
              "cv_roc_auc": round(float(search.best_score_), 4),
              "oof_roc_auc": round(float(roc_auc_score(y, oof)), 4),
              "threshold": round(threshold, 4), "bands": [round(band_low, 4), round(band_high, 4)],
              "train_seconds": round(time.perf_counter() - started, 2), "report": report},
    )
    if kind == "logistic":  # the hand-written margin is sklearn's own
        assert np.allclose(model.score(raw)[0], best.predict_proba(z)[:, 1], atol=1e-12)
    return model


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(description="Train the Python peer's model into a pickle.")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data/market"))
    parser.add_argument("--model", choices=["logistic", "knn"], default="logistic")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import model as module  # pickle the class as model.PeerModel, not __main__.PeerModel
    model = module.train(args.data, args.model)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, args.out)
    info = dict(model.info)
    for line in info.pop("report"):
        print(line, file=sys.stderr)
    print(f"trained {model.kind} ({model.version}): {info}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
