"""Generate the GBDT parity fixtures with XGBoost itself (see README.txt).

    python3 -m venv /work/scratch/xgb-venv
    /work/scratch/xgb-venv/bin/pip install numpy xgboost scikit-learn
    /work/scratch/xgb-venv/bin/python generate.py            # phase 1: data, params, XGBoost
    FLOW_GBDT_EXPORT=/tmp/flow-gbdt cargo test -p flow-ml --test gbdt -- --ignored export
    /work/scratch/xgb-venv/bin/python generate.py /tmp/flow-gbdt   # phase 2: XGBoost reads flow
    /work/scratch/xgb17-venv/bin/python generate.py legacy   # with xgboost==1.7.6 "numpy<2"

Phase 1 writes, per dataset, `<data>.csv` (columns split,y,f0..; `nan` is missing; values
rounded so that Rust and Python read the same numbers), and per case `<case>.params.json`
(XGBoost's parameter names, which are also flow's `GbdtParams`), `<case>.xgb_pred.txt`
(XGBoost's probabilities for the test rows) and, for a few cases, `<case>.xgb.json` (the
XGBoost model). Phase 2 loads the models flow exported (`<case>.flow.json`) into XGBoost and
writes its probabilities for the test rows to `<case>.flow_model_xgb_pred.txt`.
"""

import json
import os
import sys

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))


def write_data(name, x, y, n_test, decimals=4):
    """Round, write and read back, so both sides train on the text in the CSV."""
    path = os.path.join(HERE, f"{name}.csv")
    n = len(y)
    split = np.array(["train"] * (n - n_test) + ["test"] * n_test)
    with open(path, "w") as f:
        f.write("split,y," + ",".join(f"f{j}" for j in range(x.shape[1])) + "\n")
        for i in range(n):
            vals = ["nan" if np.isnan(v) else f"{v:.{decimals}f}" for v in x[i]]
            f.write(f"{split[i]},{y[i]:.{decimals}g}," + ",".join(vals) + "\n")
    return read_data(name)


def read_data(name):
    path = os.path.join(HERE, f"{name}.csv")
    raw = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=str)
    split = raw[:, 0]
    y = raw[:, 1].astype(np.float64)
    x = raw[:, 2:].astype(np.float64)
    train, test = split == "train", split == "test"
    return x[train], y[train], x[test], y[test]


def datasets():
    from sklearn.datasets import make_classification

    out = {}
    # A plain binary problem.
    x, y = make_classification(
        n_samples=700, n_features=10, n_informative=5, n_redundant=2, flip_y=0.05, random_state=1
    )
    out["classification"] = write_data("classification", x, y, 200)

    # The seed's shape: 119 patients x 65 principal components, few rows per feature.
    x, y = make_classification(
        n_samples=119, n_features=65, n_informative=10, n_redundant=5, flip_y=0.05, random_state=7
    )
    out["seedlike"] = write_data("seedlike", x, y, 24, decimals=3)

    # Missing values: at random in three columns, and informative in a fourth.
    x, y = make_classification(
        n_samples=800, n_features=8, n_informative=4, n_redundant=1, flip_y=0.05, random_state=3
    )
    rng = np.random.default_rng(3)
    for j in (0, 2, 5):
        x[rng.random(len(y)) < 0.25, j] = np.nan
    x[(y == 1) & (rng.random(len(y)) < 0.4), 7] = np.nan
    x[(y == 0) & (rng.random(len(y)) < 0.1), 7] = np.nan
    out["missing"] = write_data("missing", x, y, 250)

    # Imbalanced: about 8 % positives.
    x, y = make_classification(
        n_samples=1000, n_features=8, n_informative=4, n_redundant=2, weights=[0.92, 0.08],
        flip_y=0.01, random_state=5,
    )
    out["imbalanced"] = write_data("imbalanced", x, y, 300)

    # Regression to a probability: the label is a probability in [0, 1].
    rng = np.random.default_rng(11)
    x = rng.normal(size=(600, 6))
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.8 * x[:, 2] * x[:, 3] + 0.3 * rng.normal(size=600)
    y = 1.0 / (1.0 + np.exp(-logit))
    out["probability"] = write_data("probability", x, y, 200)

    # More rows, for row and column sampling.
    x, y = make_classification(
        n_samples=1500, n_features=6, n_informative=4, n_redundant=1, flip_y=0.05, random_state=9
    )
    out["sampling"] = write_data("sampling", x, y, 500, decimals=3)
    return out


# name -> (dataset, params in XGBoost's names, save the XGBoost model as a fixture)
CASES = {
    "classification_defaults": ("classification", {"n_estimators": 20}, False),
    "classification_seed": (
        "classification",
        {"n_estimators": 10, "eta": 0.1, "max_depth": 6, "base_score": 0.5},
        True,
    ),
    "seedlike_seed": ("seedlike", {"n_estimators": 10, "eta": 0.1, "max_depth": 6}, False),
    "missing_regularised": (
        "missing",
        {"n_estimators": 15, "eta": 0.2, "max_depth": 4, "min_child_weight": 3, "lambda": 2.0,
         "gamma": 0.5},
        True,
    ),
    "imbalanced_weighted": (
        "imbalanced",
        {"n_estimators": 40, "eta": 0.2, "max_depth": 3, "scale_pos_weight": 4.0, "max_bin": 64},
        True,
    ),
    "probability_reg_logistic": (
        "probability",
        {"objective": "reg:logistic", "n_estimators": 30, "eta": 0.3, "max_depth": 4},
        False,
    ),
    "sampling_subsample_colsample": (
        "sampling",
        {"n_estimators": 50, "eta": 0.1, "max_depth": 4, "subsample": 0.8,
         "colsample_bytree": 0.7, "seed": 1},
        False,
    ),
}

# Cases with random sampling: no two implementations draw the same rows, so their parity is
# in the mean over these seeds (one column per seed in the prediction file; params has the first).
SEEDS = {"sampling_subsample_colsample": [1, 2, 3, 4, 5]}


def dmatrix(x, y=None, names=True):
    names = [f"f{j}" for j in range(x.shape[1])] if names else None
    return xgb.DMatrix(x, label=y, feature_names=names)


def train(params, x, y, names=True):
    p = dict(params)
    rounds = p.pop("n_estimators")
    p.setdefault("objective", "binary:logistic")
    p["tree_method"] = "hist"
    p["nthread"] = 2
    return xgb.train(p, dmatrix(x, y, names), rounds)


# dataset -> max_bin of the cut fixtures
CUTS = {"missing": 256, "imbalanced": 64, "sampling": 256}


def write_cuts(name, x, max_bin):
    """XGBoost's histogram cuts: per feature, min_vals then cut_values (get_quantile_cut)."""
    d = dmatrix(x, np.zeros(len(x)))
    xgb.train({"tree_method": "hist", "max_bin": max_bin}, d, 1)
    indptr, values = d.get_quantile_cut()
    with open(os.path.join(HERE, f"{name}.max_bin{max_bin}.xgb_cuts.txt"), "w") as f:
        for j in range(x.shape[1]):
            cuts = values[indptr[j]:indptr[j + 1]].astype(np.float32)
            f.write(" ".join(np.format_float_positional(c, unique=True, trim="-") for c in cuts) + "\n")


def write_pred(path, *preds):
    """One row per test row, one column per model."""
    with open(path, "w") as f:
        for row in zip(*preds):
            # The shortest text that reads back as the same float32.
            f.write(" ".join(np.format_float_positional(np.float32(p), unique=True, trim="-") for p in row) + "\n")


def metrics(y, p):
    from sklearn.metrics import accuracy_score, roc_auc_score

    labels = (y > 0.5).astype(int)
    return roc_auc_score(labels, p), accuracy_score(labels, p > 0.5)


def phase1():
    data = datasets()
    for case, (dname, params, save_model) in CASES.items():
        x, y, xt, yt = data[dname]
        with open(os.path.join(HERE, f"{case}.params.json"), "w") as f:
            json.dump(params, f, indent=1)
            f.write("\n")
        preds = []
        for seed in SEEDS.get(case, [params.get("seed", 0)]):
            booster = train(dict(params, seed=seed) if case in SEEDS else params, x, y)
            preds.append(booster.predict(dmatrix(xt)))
            if save_model and len(preds) == 1:
                raw = booster.save_raw("json").decode()
                with open(os.path.join(HERE, f"{case}.xgb.json"), "w") as f:
                    f.write(raw)
        write_pred(os.path.join(HERE, f"{case}.xgb_pred.txt"), *preds)
        auc, acc = np.mean([metrics(yt, p) for p in preds], axis=0)
        print(f"{case}: xgboost {xgb.__version__} test AUC {auc:.4f} accuracy {acc:.4f}")
    for dname, max_bin in CUTS.items():
        write_cuts(dname, data[dname][0], max_bin)


def legacy():
    """A model saved by an XGBoost 1.x (run with one: SageMaker's built-in XGBoost is 1.x)."""
    assert xgb.__version__.startswith("1."), xgb.__version__
    x, y, xt, _ = read_data("missing")
    booster = train({"n_estimators": 8, "eta": 0.3, "max_depth": 3}, x, y, names=False)
    with open(os.path.join(HERE, "legacy_1_7.xgb.json"), "w") as f:
        f.write(booster.save_raw("json").decode())
    write_pred(os.path.join(HERE, "legacy_1_7.xgb_pred.txt"), booster.predict(dmatrix(xt, names=False)))
    print(f"legacy_1_7: saved by xgboost {xgb.__version__}")


def phase2(export_dir):
    for case, (dname, _, _) in CASES.items():
        path = os.path.join(export_dir, f"{case}.flow.json")
        booster = xgb.Booster()
        booster.load_model(path)
        _, _, xt, yt = read_data(dname)
        pred = booster.predict(dmatrix(xt))
        write_pred(os.path.join(HERE, f"{case}.flow_model_xgb_pred.txt"), pred)
        flow = np.loadtxt(os.path.join(export_dir, f"{case}.flow_pred.txt"))
        print(f"{case}: xgboost on flow's model, max |difference| to flow {np.max(np.abs(flow - pred)):.3g}")


if __name__ == "__main__":
    if sys.argv[1:] == ["legacy"]:
        legacy()
    elif len(sys.argv) > 1:
        phase2(sys.argv[1])
    else:
        phase1()
