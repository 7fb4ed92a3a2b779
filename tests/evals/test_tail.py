"""A reduced leave-intents-out run of ``evals.tail`` on the real encoder and data (issue 15).

Two splits, 1,500 training rows, a subsample of the queries: the new score must beat the previous
one and max-softmax on look-alikes and separate HWU64 from banking; ``auroc`` is checked against
a brute-force count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tierscope.data import banking77

from evals.tail import tail


@pytest.fixture(scope="module")
def shared() -> Path:
    try:
        return tail.find_shared_data()
    except FileNotFoundError as err:
        pytest.fail(f"shared data missing: {err}")


def test_auroc_matches_a_brute_force_count() -> None:
    rng = np.random.default_rng(1)
    neg, pos = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert tail.auroc(neg, pos) == pytest.approx(np.mean(pairs))
    assert tail.auroc([0, 1], [2, 3]) == 1.0 and tail.auroc([2, 3], [0, 1]) == 0.0


def test_reduced_leave_intents_out_run(shared: Path, default_dir: Path) -> None:
    texts = tail.corpora(shared)
    train_texts, train_intents = banking77("train")
    test_texts, test_intents = banking77("test")
    tr = slice(None, None, 6)
    te = slice(None, None, 3)
    emb = {
        "train": tail.embed(train_texts[tr], default_dir, None),
        "test": tail.embed(test_texts[te], default_dir, None),
        "hwu64": tail.embed(texts["hwu64"][::4], default_dir, None),
    }
    result = tail.evaluate(emb, train_intents[tr], test_intents[te], splits=2, seed=3)
    look = {m: float(np.mean(result.auroc[m]["lookalike"])) for m in tail.METHODS}
    assert look["knn_novelty"] > look["mahalanobis_v1"] + 0.05, look
    assert look["knn_novelty"] > look["max_softmax"] + 0.05, look
    assert look["knn_novelty"] > 0.8, look
    assert float(np.mean(result.auroc["knn_novelty"]["hwu64"])) > 0.97
    table = tail.markdown(result)
    assert "new score" in table and table.count("\n|") >= 5
