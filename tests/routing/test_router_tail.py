"""The tail score (kNN novelty index) and the safe defaults of issue 15, on the real default router.

Off-domain and empty queries go to the fallback tier with the stated reasons; a fallback decision
reports the fallback tier's own probability; scores do not depend on the batch; a router saved and
reloaded gives identical tail scores; ``Router.fit`` stores the index and the 0.99 threshold.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tierscope
from tierscope import Router, _core
from tierscope.data import banking77, tier_map

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
OFF_DOMAIN = [
    "can you see if the octopus eggs have hatched yet",
    "set an alarm for seven tomorrow morning",
    "what's the weather like in paris this weekend",
    "play some jazz in the living room",
    "how many calories are in a banana",
    "remind me to water the tomatoes",
]
EMPTY = ["", " ", "\t\n  \r", "\u3000\u00a0", "\0", "\0\0\0", "\x01\x02\x1f", "\x7f"]


@pytest.fixture(scope="module")
def novel_router(router: Router) -> Router:
    if router.config.get("novelty") is None:
        pytest.fail("the default router has no kNN tail index: rebuild it with `make model` (issue 15)")
    return router


def _small_training_set(n: int = 400) -> tuple[list[str], list[str], list[str]]:
    texts, intents = banking77("train")
    mapping = tier_map()
    idx = np.random.default_rng(5).choice(len(texts), size=n, replace=False)
    return [texts[i] for i in idx], [mapping[intents[i]] for i in idx], [intents[i] for i in idx]


def test_the_default_router_states_its_threshold_and_index(novel_router: Router) -> None:
    config = novel_router.config
    assert config["thresholds"]["max_tail_score"] == 0.99
    novelty = config["novelty"]
    assert novelty["method"] == "knn_cosine_int8" and novelty["neighbours"] == 3
    index = Path(str(novel_router.path)) / novelty["index_file"]
    # int8 codes + one f32 scale per row + a 16-byte header: under 4 MB for BANKING77's 10k texts.
    assert index.stat().st_size == 16 + novelty["rows"] * (384 + 4) <= 4_000_000
    assert novelty["rows"] == 10003


def test_off_domain_queries_go_to_the_fallback_tier(novel_router: Router) -> None:
    batch = novel_router.route_batch(OFF_DOMAIN)
    assert list(batch.reason) == ["off_distribution"] * len(OFF_DOMAIN)
    assert all(t == novel_router.fallback_tier for t in batch.tier) and batch.fallback.all()
    assert np.all(batch.tail_score >= 0.99)
    # Confidence is the fallback tier's own calibrated probability, not the overridden tier's.
    k = novel_router.tiers.index(novel_router.fallback_tier)
    np.testing.assert_array_equal(batch.confidence, batch.probabilities[:, k])


def test_most_hwu64_traffic_is_escalated_and_banking_traffic_is_not(novel_router: Router) -> None:
    path = SHARED / "hwu64" / "test.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with open(path, newline="", encoding="utf-8") as f:
        hwu = [r["text"] for r in csv.DictReader(f)][::5]
    off = novel_router.route_batch(hwu)
    assert np.mean(np.array(off.reason, dtype=object) == "off_distribution") > 0.9
    banking = novel_router.route_batch(banking77("test")[0][::10])
    assert np.mean(np.array(banking.reason, dtype=object) == "off_distribution") < 0.05


def test_empty_text_goes_to_the_fallback_tier_everywhere(novel_router: Router) -> None:
    for text in EMPTY:
        d = novel_router.route(text)
        assert (d.tier, d.fallback, d.reason) == (novel_router.fallback_tier, True, "empty_text"), repr(text)
        assert np.isnan(d.confidence) and np.isnan(d.tail_score) and d.tokens == 0
    mixed = ["how do I top up my card", *EMPTY, "my card was stolen"]
    batch = novel_router.route_batch(mixed)
    assert list(batch.reason[1:-1]) == ["empty_text"] * len(EMPTY)
    assert batch.reason[0] is None and not batch.fallback[0]


def test_tail_scores_do_not_depend_on_the_batch(novel_router: Router) -> None:
    texts = banking77("test")[0][:40] + OFF_DOMAIN
    together = novel_router.route_batch(texts)
    alone = [novel_router.route(t) for t in texts]
    np.testing.assert_array_equal(together.tail_score, [d.tail_score for d in alone])
    shuffled = np.random.default_rng(0).permutation(len(texts))
    again = novel_router.route_batch([texts[i] for i in shuffled])
    np.testing.assert_array_equal(again.tail_score, together.tail_score[shuffled])
    assert list(again.reason) == [together.reason[i] for i in shuffled]


def test_saved_and_reloaded_router_gives_identical_tail_scores(novel_router: Router, tmp_path: Path) -> None:
    novel_router.save(tmp_path / "r")
    assert (tmp_path / "r" / "tail_index.bin").read_bytes() == (
        Path(str(novel_router.path)) / "tail_index.bin"
    ).read_bytes()
    texts = banking77("test")[0][:30] + OFF_DOMAIN
    np.testing.assert_array_equal(
        Router.load(tmp_path / "r").route_batch(texts).tail_score,
        novel_router.route_batch(texts).tail_score,
    )


def test_fit_stores_the_index_and_threshold_and_round_trips(default_dir: Path, tmp_path: Path) -> None:
    texts, tiers, intents = _small_training_set()
    fitted = Router.fit(texts, tiers, encoder=default_dir, intents=intents, out_dir=tmp_path / "a")
    assert fitted.config["thresholds"]["max_tail_score"] == 0.99
    assert fitted.config["novelty"]["rows"] == 400 and fitted.metrics["tail_index_bytes"] == 16 + 400 * 388
    assert "tail" not in fitted.config or fitted.config["tail"] is None
    in_memory = Router.fit(texts, tiers, encoder=default_dir, intents=intents)
    probe = ["my card was charged twice", "how do I top up", *OFF_DOMAIN]
    np.testing.assert_array_equal(
        fitted.route_batch(probe).tail_score, in_memory.route_batch(probe).tail_score
    )
    assert all(r == "off_distribution" for r in fitted.route_batch(OFF_DOMAIN).reason)
    # A capped, intent-stratified index keeps every intent; no threshold when told so.
    capped = Router.fit(
        texts, tiers, encoder=default_dir, intents=intents, tail_max_rows=100, max_tail_score=None
    )
    assert capped.config["novelty"]["rows"] == 100 and capped.config["thresholds"]["max_tail_score"] is None
    assert not any(r == "off_distribution" for r in capped.route_batch(OFF_DOMAIN).reason)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"intents": ["a"] * 3}, "`intents`: expected one intent per text"),
        ({"intents": "abcd"}, "`intents`"),
        ({"max_tail_score": 1.5}, "`max_tail_score`"),
        ({"tail_neighbours": 0}, "`tail_neighbours`"),
        ({"tail_neighbours": 3, "tail_max_rows": 3}, "`tail_max_rows`"),
    ],
)
def test_fit_rejects_bad_tail_options(default_dir: Path, kwargs: dict[str, object], needle: str) -> None:
    texts = ["my card was stolen", "how do I top up", "a charge I do not know", "change my pin"]
    with pytest.raises(tierscope.InvalidInputError) as info:
        Router.fit(texts, ["capable", "cheap"] * 2, encoder=default_dir, **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_tail_scores_binding_checks_shapes() -> None:
    x = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    tiers = np.array([0, 1] * 10, dtype=np.uint32)
    out = _core.tail_scores(x, tiers, x[:5])
    assert set(out) == {"knn", "knn_distance", "mahalanobis", "max_softmax"}
    assert all(len(v) == 5 for v in out.values())
    assert np.all((out["knn"] >= 0) & (out["knn"] <= 1))
    with pytest.raises(tierscope.InvalidInputError, match="query"):
        _core.tail_scores(x, tiers, x[:, :4].copy())
    with pytest.raises(tierscope.InvalidInputError, match="train_tiers"):
        _core.tail_scores(x, tiers[:5].copy(), x)
    assert json.dumps({k: float(v[0]) for k, v in out.items()})


def test_a_guard_decision_that_is_a_threshold_fallback_is_kept(novel_router: Router, tmp_path: Path) -> None:
    """The precision guard's own off_distribution decisions used to crash the re-decision (a
    tuple assignment indexed with the already-filtered rows); now they are decisions like others."""
    if novel_router.guard is None:
        pytest.skip("the default router has no precision guard")
    novel_router.save(tmp_path / "r")
    guard_json = tmp_path / "r" / "guard" / "router.json"
    config = json.loads(guard_json.read_text())
    config["thresholds"]["max_tail_score"] = 0.0  # the guard sends everything to the fallback tier
    guard_json.write_text(json.dumps(config))
    strict_guard = Router.load(tmp_path / "r")
    texts = banking77("test")[0][:300]
    batch = strict_guard.route_batch(texts)
    assert batch.guarded is not None and batch.guarded.any()
    assert all(batch.reason[i] == "off_distribution" for i in np.flatnonzero(batch.guarded))
    plain = novel_router.route_batch(texts)
    assert np.array_equal(batch.guarded, plain.guarded)
