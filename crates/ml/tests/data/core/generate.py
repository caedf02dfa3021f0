"""Reference values for crates/ml/tests/core.rs, from scikit-learn and numpy.

Run from this folder with a venv holding numpy and scikit-learn:
    python3 -m venv /tmp/ml-venv && /tmp/ml-venv/bin/pip install numpy scikit-learn
    /tmp/ml-venv/bin/python generate.py
The matrices are not stored: `Gen` below is a SplitMix64 stream whose doubles are exact
(53-bit dyadic uniforms, sums in a fixed order, no library maths), so tests/core.rs rebuilds
the same matrices bit for bit from the `spec` recorded in each file.
"""

import json
import math
import platform

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

MASK = (1 << 64) - 1


class Gen:
    """SplitMix64; `normal` is Irwin-Hall (12 uniforms - 6): exact and portable, not Gaussian."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def normal(self):
        total = 0.0
        for _ in range(12):
            total += self.uniform()
        return total - 6.0


def matrix(spec):
    """n x p: factors @ loadings + noise, then per-column scale and offset (plain floats)."""
    g = Gen(spec["seed"])
    n, p, f = spec["rows"], spec["cols"], spec["factors"]
    loadings = [[g.normal() for _ in range(p)] for _ in range(f)]
    scale = [0.5 + 4.5 * g.uniform() for _ in range(p)]
    offset = [10.0 * g.uniform() - 5.0 for _ in range(p)]
    factors = [[g.normal() for _ in range(f)] for _ in range(n)]
    noise = [[g.normal() for _ in range(p)] for _ in range(n)]
    x = []
    for i in range(n):
        row = []
        for j in range(p):
            acc = 0.0
            for k in range(f):
                # Factor k's strength decays, so the spectrum does too.
                acc += factors[i][k] * loadings[k][j] / (k + 1.0)
            row.append((acc + spec["noise"] * noise[i][j]) * scale[j] + offset[j])
        x.append(row)
    for target, source in spec.get("duplicate", []):
        for row in x:
            row[target] = row[source]
    for column, value in spec.get("constant", []):
        for row in x:
            row[column] = value
    for column, every in spec.get("missing", []):
        for i, row in enumerate(x):
            if i % every == 0:
                row[column] = float("nan")
    return np.array(x, dtype=np.float64)


def probes(p, seed):
    g = Gen(seed)
    return np.array([[g.uniform() - 0.5 for _ in range(p)] for _ in range(2)])


def floats(a):
    return [None if math.isnan(v) else ("inf" if v == math.inf else v) for v in np.asarray(a, dtype=float).ravel().tolist()]


def versions():
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "python": platform.python_version()}


def pca_case(name, spec, n_full_components, standardise=False):
    x = matrix(spec)
    if standardise:
        x = StandardScaler().fit_transform(x)
    full = PCA(n_components=min(x.shape), svd_solver="full").fit(x)
    ks = {str(t): int(PCA(n_components=t, svd_solver="full").fit(x).n_components_) for t in (0.5, 0.9, 0.95, 0.99)}
    fingerprints = full.components_ @ probes(x.shape[1], spec["seed"] + 1000).T
    return {
        "name": name,
        "spec": spec,
        "standardise": standardise,
        "versions": versions(),
        "mean": floats(full.mean_),
        "singular_values": floats(full.singular_values_),
        "explained_variance": floats(full.explained_variance_),
        "explained_variance_ratio": floats(full.explained_variance_ratio_),
        "k": ks,
        "components_head": [floats(c) for c in full.components_[:n_full_components]],
        "fingerprints": [floats(f) for f in fingerprints],
    }


def write(name, value):
    with open(name, "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")


def pca_fixtures():
    wide = {"seed": 1, "rows": 119, "cols": 215, "factors": 12, "noise": 0.5}
    tall = {"seed": 2, "rows": 400, "cols": 12, "factors": 3, "noise": 0.3}
    degenerate = {"seed": 4, "rows": 30, "cols": 8, "factors": 2, "noise": 0.2, "duplicate": [[7, 0]], "constant": [[6, 3.0]]}
    write("pca_wide.json", pca_case("wide", wide, 10))
    write("pca_wide_standardised.json", pca_case("wide_standardised", wide, 10, standardise=True))
    write("pca_tall.json", pca_case("tall", tall, 12))
    write("pca_degenerate.json", pca_case("degenerate", degenerate, 8))


def scaler_fixture():
    spec = {"seed": 3, "rows": 50, "cols": 6, "factors": 2, "noise": 0.4, "constant": [[2, 7.25]], "missing": [[4, 7]]}
    x = matrix(spec)
    # A near-constant column on a large offset: scikit-learn's _is_constant_feature bound.
    g = Gen(99)
    x[:, 5] = [1e9 + 1e-6 * g.uniform() for _ in range(x.shape[0])]
    train, test = x[:40], x[40:]
    scaler = StandardScaler().fit(train)
    write("scaler.json", {
        "spec": spec,
        "near_constant_column": {"column": 5, "seed": 99, "offset": 1e9, "spread": 1e-6},
        "train_rows": 40,
        "versions": versions(),
        "mean": floats(scaler.mean_),
        "var": floats(scaler.var_),
        "scale": floats(scaler.scale_),
        "n_samples_seen": [int(v) for v in np.broadcast_to(scaler.n_samples_seen_, (x.shape[1],))],
        "test_transformed": [floats(r) for r in scaler.transform(test)],
    })


def metric_case(name, y_true, y_prob, threshold=0.5):
    y_true = np.asarray(y_true, dtype=float)
    y_prob = np.asarray(y_prob, dtype=float)
    y_pred = (y_prob > threshold).astype(float)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0.0, 1.0], zero_division=0)
    wp, wr, wf, _ = precision_recall_fscore_support(y_true, y_pred, labels=[0.0, 1.0], average="weighted", zero_division=0)
    both = len(np.unique(y_true)) == 2
    case = {
        "name": name,
        "y_true": floats(y_true),
        "y_prob": floats(y_prob),
        "threshold": threshold,
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": floats(p), "recall": floats(r), "f1": floats(f), "support": [int(v) for v in s],
        "weighted": {"precision": wp, "recall": wr, "f1": wf},
        "confusion": confusion_matrix(y_true, y_pred, labels=[0.0, 1.0]).tolist(),
    }
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auc = roc_auc_score(y_true, y_prob) if both else float(roc_auc_score(y_true, y_prob))
    case["roc_auc"] = None if math.isnan(auc) else auc
    if both:
        fpr, tpr, thr = roc_curve(y_true, y_prob, drop_intermediate=False)
        case["roc"] = {"fpr": floats(fpr), "tpr": floats(tpr), "thresholds": floats(thr)}
    else:
        case["roc"] = None
    return case


def metrics_fixture():
    g = Gen(5)
    n = 60
    y_true = [1.0 if g.uniform() < 0.4 else 0.0 for _ in range(n)]
    # Scores rounded to one decimal: many ties, some exactly at the threshold.
    y_prob = [round(min(1.0, max(0.0, 0.3 * t + 0.35 + 0.25 * (g.uniform() - 0.5) * 2)), 1) for t in y_true]
    continuous = [min(1.0, max(0.0, 0.2 * t + 0.4 + 0.3 * (g.uniform() - 0.5) * 2)) for t in y_true]
    cases = [
        metric_case("ties", y_true, y_prob),
        metric_case("continuous", y_true, continuous),
        metric_case("all_predicted_negative", y_true, [0.1 * p for p in continuous]),
        metric_case("perfect", [0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9]),
        metric_case("reversed", [0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]),
        metric_case("one_class", [1, 1, 1, 1], [0.2, 0.6, 0.7, 0.9]),
        metric_case("threshold_0.3", y_true, continuous, threshold=0.3),
    ]
    # Multiclass labels with a class that is predicted but never true.
    mt = [0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2, 2]
    mp = [0, 2, 2, 3, 1, 0, 1, 1, 0, 0, 2, 3]
    labels = sorted(set(mt) | set(mp))
    p, r, f, s = precision_recall_fscore_support(mt, mp, zero_division=0)
    wp, wr, wf, _ = precision_recall_fscore_support(mt, mp, average="weighted", zero_division=0)
    multiclass = {
        "y_true": mt, "y_pred": mp, "labels": labels,
        "accuracy": accuracy_score(mt, mp),
        "precision": floats(p), "recall": floats(r), "f1": floats(f), "support": [int(v) for v in s],
        "weighted": {"precision": wp, "recall": wr, "f1": wf},
        "confusion": confusion_matrix(mt, mp).tolist(),
    }
    write("metrics.json", {"versions": versions(), "binary": cases, "multiclass": multiclass})


def approximate_mode_has_ties(counts, n_draws):
    counts = np.asarray(counts)
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    remainder = np.sort(continuous - floored)[::-1]
    return need > 0 and need < len(counts) and remainder[need - 1] == remainder[need]


def split_fixture():
    cases = []
    for counts in ([80, 39], [100, 11], [60, 60], [30, 7, 13], [50, 50, 19]):
        y = np.repeat(np.arange(len(counts)), counts).astype(float)
        rest, test = train_test_split(y, test_size=0.2, stratify=y, random_state=0)
        train, validation = train_test_split(rest, test_size=0.2, stratify=rest, random_state=0)
        n = len(y)
        n_test = math.ceil(0.2 * n)
        ties = approximate_mode_has_ties(counts, n - n_test) or approximate_mode_has_ties(
            np.bincount(rest.astype(int), minlength=len(counts)), len(rest) - math.ceil(0.2 * len(rest)))
        cases.append({
            "class_counts": counts,
            "remainder_ties": bool(ties),
            "train": np.bincount(train.astype(int), minlength=len(counts)).tolist(),
            "validation": np.bincount(validation.astype(int), minlength=len(counts)).tolist(),
            "test": np.bincount(test.astype(int), minlength=len(counts)).tolist(),
        })
    write("split_counts.json", {"versions": versions(), "test_fraction": 0.2, "validation_fraction": 0.2, "cases": cases})


def tree_fixture():
    g = Gen(6)
    def rows(n):
        # float32-exact values: scikit-learn's trees work in float32.
        return np.array([[float(np.float32(g.normal())) for _ in range(5)] for _ in range(n)])
    x_train, x_test = rows(150), rows(60)
    def label(r):
        return 1.0 if r[0] + 0.5 * r[1] * r[1] - r[2] + 0.5 * g.normal() > 0.3 else 0.0
    y_train = np.array([label(r) for r in x_train])
    cases = []
    for params in ({"max_depth": 4, "min_samples_split": 2, "min_samples_leaf": 3},
                   {"max_depth": None, "min_samples_split": 2, "min_samples_leaf": 6},
                   {"max_depth": 3, "min_samples_split": 20, "min_samples_leaf": 5}):
        trees = [DecisionTreeClassifier(random_state=s, **params).fit(x_train, y_train) for s in range(10)]
        reference = trees[0].tree_
        # Equally good splits on different features are chosen by random_state. These settings
        # have none on these data (fully grown trees here do: their small nodes tie), so every
        # seed grows the same tree and the comparison is meaningful.
        for t in trees[1:]:
            assert np.array_equal(t.tree_.feature, reference.feature)
            assert np.array_equal(t.tree_.threshold, reference.threshold)
        cases.append({
            "params": params,
            "node_count": int(reference.node_count),
            "n_leaves": int(trees[0].get_n_leaves()),
            "depth": int(trees[0].get_depth()),
            "feature": reference.feature.tolist(),
            "threshold": floats(reference.threshold),
            "left": reference.children_left.tolist(),
            "right": reference.children_right.tolist(),
            "proba_test": floats(trees[0].predict_proba(x_test)[:, 1]),
            "predict_test": floats(trees[0].predict(x_test)),
        })
    write("tree.json", {
        "versions": versions(),
        "x_train": [floats(r) for r in x_train], "y_train": floats(y_train),
        "x_test": [floats(r) for r in x_test],
        "cases": cases,
    })


if __name__ == "__main__":
    pca_fixtures()
    scaler_fixture()
    metrics_fixture()
    split_fixture()
    tree_fixture()
