"""Long inputs routed by what matters (truncation strategies), class weights and the embedding
cache of ``Router.fit``, on the real default encoder."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
from tierscope import Router
from tierscope.exceptions import InvalidInputError, ModelLoadError
from tierscope.routing.router import EmbeddingCache

# 205 tokens of shared few-shot examples (MiniLM tokenizer), then the question that decides the tier.
SHARED = " ".join(
    f"Example {i}: the customer asked about account number {1000 + i} and the agent replied with the "
    f"standard policy text for branch {i}, reference code ABC-{i * 7}, closing the ticket."
    for i in range(6)
)
CHEAP = ["what time does the branch open", "how do I change my card pin", "where can I find my statement"]
CAPABLE = [
    "a wire transfer was stolen and I need a legal fraud dispute",
    "someone used my identity to open a mortgage in court",
    "report money laundering on a business account with lawyers",
]


def few_shot(n: int = 96, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, tiers = [], []
    for i in range(n):
        tier = "cheap" if i % 2 == 0 else "capable"
        question = rng.choice(CHEAP if tier == "cheap" else CAPABLE)
        texts.append(f"{SHARED}\nQuestion {rng.randint(1, 99)}: {question}?")
        tiers.append(tier)
    return texts, tiers


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tail_and_head_tail_see_the_question_and_head_cannot(default_dir: Path, tmp_path: Path) -> None:
    texts, tiers = few_shot()
    accuracy = {}
    for truncation in ("head", "tail", "head+tail"):
        with pytest.warns(UserWarning, match=r"truncated 100\.0% of the training texts"):
            router = Router.fit(
                texts, tiers, encoder=default_dir, truncation=truncation, holdout_fraction=0.25, seed=1
            )
        assert router.metrics["truncated_share"] == 1.0
        accuracy[truncation] = router.metrics["holdout_accuracy"]
    print("holdout accuracy by truncation:", accuracy)
    assert accuracy["head"] <= 0.6, accuracy  # every input is the same shared examples: chance
    assert accuracy["tail"] >= 0.9 and accuracy["head+tail"] >= 0.9, accuracy


@pytest.mark.timeout(300)
def test_truncation_and_max_length_are_stored_and_flags_stay_batch_invariant(
    default_dir: Path, tmp_path: Path
) -> None:
    texts, tiers = few_shot(24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        Router.fit(
            texts, tiers, encoder=default_dir, truncation="tail", max_length=256, out_dir=tmp_path / "r"
        )
    spec = json.loads((tmp_path / "r" / "router.json").read_text())["model"]
    assert (spec["truncation"], spec["max_length"]) == ("tail", 256)
    router = Router.load(tmp_path / "r")
    batch = router.route_batch(["short question", texts[0] * 3, texts[1]])
    assert list(batch.truncated) == [False, True, False]  # texts[1] is ~220 tokens: fits in 256
    for i, text in enumerate(["short question", texts[0] * 3, texts[1]]):
        one = router.route_batch([text])
        assert one.truncated[0] == batch.truncated[i]
        np.testing.assert_allclose(one.probabilities[0], batch.probabilities[i], atol=1e-5)
    # An old router.json (no truncation field) is head/128.
    old = json.loads((default_dir / "router.json").read_text())["model"]
    assert "truncation" not in old and old["max_length"] == 128


def test_bad_truncation_options_are_refused_before_any_work(default_dir: Path) -> None:
    texts, tiers = few_shot(8)
    with pytest.raises(InvalidInputError, match="truncation"):
        Router.fit(texts, tiers, encoder=default_dir, truncation="middle")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="head_tokens"):
        Router.fit(texts, tiers, encoder=default_dir, truncation="tail", head_tokens=4)
    with pytest.raises(InvalidInputError, match="class_weight"):
        Router.fit(texts, tiers, encoder=default_dir, class_weight={"premium": 2.0})
    with pytest.raises(ModelLoadError, match="at most the model's 512 positions"):
        Router.fit(texts, tiers, encoder=default_dir, max_length=600)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_balanced_class_weights_predict_the_minority_tier(default_dir: Path) -> None:
    """95:5 labels whose minority tier overlaps the majority's phrasing."""
    rng = random.Random(3)
    texts, tiers = [], []
    for i in range(400):
        minority = i % 20 == 0
        words = rng.sample(CAPABLE if minority and rng.random() < 0.6 else CHEAP + CAPABLE, 1)[0]
        texts.append(f"{words} please {rng.randint(0, 9999)}")
        tiers.append("capable" if minority else "cheap")
    plain = Router.fit(texts, tiers, encoder=default_dir, seed=2, holdout_fraction=0.3)
    balanced = Router.fit(
        texts, tiers, encoder=default_dir, seed=2, holdout_fraction=0.3, class_weight="balanced"
    )
    minority_predicted = [
        r.metrics["holdout_confusion"][1][1] + r.metrics["holdout_confusion"][0][1] for r in (plain, balanced)
    ]
    print("holdout predictions of the minority tier (plain, balanced):", minority_predicted)
    assert minority_predicted[1] > 0
    assert balanced.metrics["holdout_confusion"][1][1] >= 1  # a minority example predicted right
    assert minority_predicted[1] > minority_predicted[0]


def test_the_embedding_cache_encodes_each_text_once(default_dir: Path, tmp_path: Path) -> None:
    texts, tiers = few_shot(24)
    cache = EmbeddingCache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        first = Router.fit(texts, tiers, encoder=default_dir, embedding_cache=cache, truncation="tail")
        assert cache.encoded == len(set(texts))
        second = Router.fit(texts, tiers, encoder=default_dir, embedding_cache=cache, truncation="tail")
        assert cache.encoded == len(set(texts)), "the repeated fit encoded nothing"
        direct = Router.fit(texts, tiers, encoder=default_dir, truncation="tail")
        Router.fit(texts, tiers, encoder=default_dir, embedding_cache=cache, truncation="head")
    assert cache.encoded == 2 * len(set(texts)), "another truncation is another key"
    assert first.config == second.config
    assert first.metrics["truncated_share"] == direct.metrics["truncated_share"] == 1.0
    np.testing.assert_allclose(first.config["head"]["weights"], direct.config["head"]["weights"], atol=1e-4)
    cache.save(tmp_path / "cache.npz")
    again = EmbeddingCache.load(tmp_path / "cache.npz")
    assert len(again) == len(cache)
    again.embed(default_dir, texts[:3], truncation="tail")
    assert again.encoded == 0 and again.hits == 3
