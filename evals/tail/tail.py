"""Leave-intents-out evaluation of the router's tail score (issue 15).

Look-alikes: train on a random 60 of BANKING77's 77 intents, then score the test queries of the
17 held-out intents (positives) against the test queries of the 60 trained intents (negatives).
Off-domain: HWU64 test (virtual-assistant commands) and DSTC11 insurance utterances against the
same in-intent test queries. Every score is fitted on the training embeddings of the split; the
texts are embedded once with the router's encoder (cached), so a run takes minutes.

Scores compared (higher = more novel): 1 - max-softmax of a logistic tier head, a plain 10-NN
mean cosine distance (float64, numpy: an independent reference), the previous two-tier
Mahalanobis score and the new kNN novelty score (the Rust index a fitted router stores).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tierscope import _core
from tierscope.data import banking77, tier_map

N_HELD_OUT = 17
METHODS = ("max_softmax", "knn10_fp64", "mahalanobis_v1", "knn_novelty")
LABELS = {
    "max_softmax": "1 − max-softmax (tier head)",
    "knn10_fp64": "10-NN cosine distance (fp64, numpy)",
    "mahalanobis_v1": "previous score (2-centroid Mahalanobis)",
    "knn_novelty": "new score (3-NN cosine, int8 index, LOO percentile)",
}
F32 = npt.NDArray[np.float32]


def find_shared_data() -> Path:
    """``$TIERSCOPE_SHARED_DATA`` or ``shared/data`` beside (or above) the repository."""
    env = os.environ.get("TIERSCOPE_SHARED_DATA")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        cand = parent / "shared" / "data"
        if (cand / "hwu64").is_dir():
            return cand
    raise FileNotFoundError("shared/data (with hwu64/) not found; set $TIERSCOPE_SHARED_DATA")


def corpora(shared: Path) -> dict[str, list[str]]:
    """The texts: BANKING77 train/test, HWU64 test, DSTC11 insurance."""
    with open(shared / "hwu64" / "test.csv", newline="", encoding="utf-8") as f:
        hwu = [r["text"] for r in csv.DictReader(f)]
    path = shared / "dstc11_customer_service_intents" / "insurance_utterances.jsonl"
    with open(path, encoding="utf-8") as f:
        insurance = [json.loads(line)["utterance"] for line in f if line.strip()]
    return {
        "train": banking77("train")[0],
        "test": banking77("test")[0],
        "hwu64": hwu,
        "dstc11_insurance": insurance,
    }


def embed(texts: list[str], router_dir: Path, cache_dir: Path | None) -> F32:
    """Embeddings of ``texts`` by the encoder of ``router_dir`` (cached by content hash)."""
    from tierscope import Router

    key = hashlib.sha256()
    key.update((router_dir / "router.json").read_bytes())
    key.update((router_dir / "model.onnx").stat().st_size.to_bytes(8, "little"))
    key.update("\0".join(texts).encode("utf-8"))
    path = None if cache_dir is None else cache_dir / f"{key.hexdigest()[:24]}.npy"
    if path is not None and path.is_file():
        return np.load(path)
    batch = Router.load(router_dir, guard=False).route_batch(texts, with_embeddings=True)
    assert batch.embeddings is not None
    values = np.ascontiguousarray(batch.embeddings, dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, values)
    return values


def auroc(negatives: npt.ArrayLike, positives: npt.ArrayLike) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney U)."""
    neg, pos = np.asarray(negatives, float), np.asarray(positives, float)
    both = np.concatenate([neg, pos])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_vals = both[order]
    i = 0
    while i < len(both):  # average ranks over ties
        j = i
        while j + 1 < len(both) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(neg) * len(pos)))


def knn_distance(train: F32, query: F32, k: int = 10) -> npt.NDArray[np.float64]:
    """Mean cosine distance to the ``k`` nearest training rows (float64 reference)."""
    t = train.astype(np.float64)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    q = query.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out = np.empty(len(q))
    for start in range(0, len(q), 512):
        sims = q[start : start + 512] @ t.T
        top = -np.partition(-sims, k - 1, axis=1)[:, :k]
        out[start : start + 512] = 1.0 - top.mean(axis=1)
    return out


def scores(train: F32, tiers: npt.NDArray[np.uint32], query: F32) -> dict[str, npt.NDArray[np.float64]]:
    """Every method's novelty score of ``query`` given the training embeddings."""
    core = _core.tail_scores(train, tiers, query)
    return {
        "max_softmax": 1.0 - core["max_softmax"],
        "knn10_fp64": knn_distance(train, query),
        "mahalanobis_v1": core["mahalanobis"],
        "knn_novelty": core["knn"],
    }


@dataclass
class Result:
    """AUROC per method and query set, one value per split; escalation shares at the threshold."""

    splits: int
    auroc: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    escalated: dict[str, list[float]] = field(default_factory=dict)
    lookalike_capable_cheap: list[float] = field(default_factory=list)


def evaluate(
    emb: dict[str, F32],
    train_intents: list[str],
    test_intents: list[str],
    *,
    splits: int = 5,
    seed: int = 0,
    threshold: float = 0.99,
    max_train: int | None = None,
) -> Result:
    """Leave-intents-out AUROCs over ``splits`` random splits of the intents."""
    mapping = tier_map()
    intents = sorted(set(train_intents))
    tr_int, te_int = np.array(train_intents), np.array(test_intents)
    result = Result(splits)
    rng = np.random.default_rng(seed)
    for _ in range(splits):
        held = set(rng.choice(intents, N_HELD_OUT, replace=False).tolist())
        keep = np.flatnonzero(~np.isin(tr_int, list(held)))
        if max_train is not None and len(keep) > max_train:
            keep = np.sort(rng.choice(keep, max_train, replace=False))
        tiers = np.array([mapping[i] == "capable" for i in tr_int[keep]], dtype=np.uint32)
        seen = ~np.isin(te_int, list(held))
        query_sets = {"lookalike": emb["test"][~seen]}
        query_sets.update({k: emb[k] for k in emb if k not in ("train", "test")})
        queries = np.concatenate([emb["test"][seen], *query_sets.values()])
        s = scores(emb["train"][keep], tiers, queries)
        n_seen = int(seen.sum())
        bounds = np.cumsum([n_seen, *(len(q) for q in query_sets.values())])
        for method, values in s.items():
            neg = values[:n_seen]
            for (name, _), lo, hi in zip(query_sets.items(), bounds[:-1], bounds[1:], strict=True):
                result.auroc.setdefault(method, {}).setdefault(name, []).append(auroc(neg, values[lo:hi]))
        novelty = s["knn_novelty"]
        result.escalated.setdefault("in_intent", []).append(float(np.mean(novelty[:n_seen] >= threshold)))
        for (name, _), lo, hi in zip(query_sets.items(), bounds[:-1], bounds[1:], strict=True):
            result.escalated.setdefault(name, []).append(float(np.mean(novelty[lo:hi] >= threshold)))
    return result


def markdown(result: Result) -> str:
    """The comparison table: mean ± standard deviation of AUROC over the splits."""
    sets = list(next(iter(result.auroc.values())))
    lines = [
        f"| score | {' | '.join(f'AUROC {s}' for s in sets)} |",
        "|---|" + "---|" * len(sets),
    ]
    for method in METHODS:
        cells = []
        for name in sets:
            values = np.array(result.auroc[method][name])
            cells.append(f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.3f}")
        lines.append(f"| {LABELS[method]} | {' | '.join(cells)} |")
    esc = ", ".join(f"{k} {np.mean(v):.1%}" for k, v in result.escalated.items())
    lines.append(f"\n{result.splits} splits ({N_HELD_OUT} of 77 intents held out each). ")
    lines.append(f"Share at or above the 0.99 threshold (new score): {esc}.")
    return "\n".join(lines)
