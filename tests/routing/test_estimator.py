"""TierClassifier: the scikit-learn-shaped head estimator, on real MiniLM embeddings.

The head it trains must be the head ``Router.fit`` writes, given the same embeddings: that is
what makes it the estimator surface of the router rather than a second trainer.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope.data import banking77, tier_map
from tierscope.exceptions import InvalidInputError
from tierscope.routing import Router, TierClassifier
from tierscope.routing.estimator import NotFittedError

TIERS = ["cheap", "capable"]


@pytest.fixture(scope="module")
def fp32(fp32_dir: Path) -> Router:
    return Router.load(fp32_dir)


@pytest.fixture(scope="module")
def labelled() -> tuple[list[str], list[str]]:
    texts, intents = banking77("train")
    tiers = tier_map()
    # Every 25th text: 400 labelled texts, both tiers, a few seconds to embed.
    return texts[::25], [tiers[i] for i in intents[::25]]


@pytest.fixture(scope="module")
def embedded(fp32: Router, labelled: tuple[list[str], list[str]]) -> np.ndarray:
    embeddings = fp32.route_batch(labelled[0], with_embeddings=True).embeddings
    assert embeddings is not None
    return embeddings


def test_the_estimator_trains_the_head_router_fit_writes(
    fp32: Router, labelled: tuple[list[str], list[str]], embedded: np.ndarray
) -> None:
    texts, tiers = labelled
    fitted = Router.fit(texts, tiers, encoder=fp32, tier_order=TIERS, l2=1e-3, seed=3)
    head = fitted.config["head"]
    model = TierClassifier(classes=TIERS, l2=1e-3, seed=3).fit(embedded, tiers)
    # router.json stores the head as float32; Router.fit embeds in its own batches (the same
    # encoder, other padding), hence a small tolerance rather than equality.
    np.testing.assert_allclose(model.coef_, np.asarray(head["weights"]), atol=2e-3, rtol=1e-3)
    np.testing.assert_allclose(model.intercept_, np.asarray(head["bias"]), atol=2e-3, rtol=1e-3)
    assert model.temperature_ == pytest.approx(fitted.config["calibration"]["temperature"], rel=1e-3)
    assert model.metrics_["n_train"] == fitted.metrics["n_train"]
    assert model.metrics_["holdout_accuracy"] == pytest.approx(fitted.metrics["holdout_accuracy"], abs=0.01)
    # And it decides like the fitted router on the training texts.
    routed = fitted.route_batch(texts)
    assert (model.predict(embedded) == np.asarray(routed.tier)).mean() >= 0.99
    np.testing.assert_allclose(model.predict_proba(embedded), routed.probabilities, atol=5e-3)


def test_texts_and_embeddings_give_the_same_estimator(
    fp32: Router, fp32_dir: Path, labelled: tuple[list[str], list[str]], embedded: np.ndarray
) -> None:
    texts, tiers = labelled
    on_texts = TierClassifier(encoder=fp32).fit(texts, tiers)
    on_embeddings = TierClassifier().fit(embedded, tiers)
    np.testing.assert_array_equal(on_texts.classes_, np.array(["capable", "cheap"]))
    np.testing.assert_allclose(on_texts.transform(texts), embedded, atol=1e-5)
    np.testing.assert_allclose(on_texts.coef_, on_embeddings.coef_, atol=1e-3)
    assert on_texts.n_features_in_ == embedded.shape[1] == 384
    assert on_texts.score(texts, tiers) == pytest.approx(on_embeddings.score(embedded, tiers), abs=0.01)
    assert on_texts.score(texts, tiers) > 0.8
    # A path encoder pickles (the loaded router is a cache) and predicts the same afterwards.
    by_path = TierClassifier(encoder=str(fp32_dir)).fit(texts[:120], tiers[:120])
    again = pickle.loads(pickle.dumps(by_path))
    np.testing.assert_array_equal(again.predict(texts[:40]), by_path.predict(texts[:40]))


def test_probabilities_are_a_temperature_scaled_softmax(embedded: np.ndarray, labelled: tuple) -> None:
    model = TierClassifier().fit(embedded, labelled[1])
    proba = model.predict_proba(embedded)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    logits = embedded.astype(np.float64) @ model.coef_.T + model.intercept_
    expected = np.exp(logits / model.temperature_)
    np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True), rtol=1e-9)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(embedded)), proba, rtol=1e-9)
    assert 0.05 <= model.temperature_ <= 20.0
    assert model.metrics_["holdout_ece"] <= model.metrics_["holdout_ece_uncalibrated"] + 0.02


def test_params_round_trip_and_unknown_names_raise() -> None:
    model = TierClassifier(l2=0.5, seed=4)
    assert model.get_params() == {
        "encoder": None, "classes": None, "l2": 0.5, "holdout_fraction": 0.2, "seed": 4, "max_iter": 500,
    }  # fmt: skip
    assert model.set_params(l2=0.1, max_iter=50) is model and model.l2 == 0.1
    assert repr(model) == "TierClassifier(l2=0.1, seed=4, max_iter=50)"
    with pytest.raises(InvalidInputError, match="`alpha`"):
        model.set_params(alpha=1.0)


@pytest.mark.parametrize(
    ("params", "X", "y", "match"),
    [
        ({}, np.ones((6, 3)), None, "requires y to be passed"),
        ({}, np.ones((6, 3)), ["a"] * 6, "at least 2 classes"),
        ({}, np.ones((6, 3)), ["a", "b"] * 2, "one label per row"),
        ({}, np.ones((6, 3)), [0.5] * 6, "continuous"),
        ({}, np.ones(6), ["a", "b"] * 3, "Reshape your data"),
        ({}, np.full((6, 3), np.nan), ["a", "b"] * 3, "NaN"),
        ({}, ["a text"] * 6, ["a", "b"] * 3, "`encoder`"),
        ({"encoder": 3}, ["a text"] * 6, ["a", "b"] * 3, "`encoder`"),
        ({"classes": ["a"]}, np.ones((6, 3)), ["a", "b"] * 3, "labels among classes"),
        ({"l2": -1.0}, np.ones((6, 3)), ["a", "b"] * 3, "`l2`"),
        ({"holdout_fraction": 1.0}, np.ones((6, 3)), ["a", "b"] * 3, "`holdout_fraction`"),
        ({}, np.ones((3, 3)), ["a", "b", "b"], "at least 2 examples of every class"),
    ],
)
def test_bad_inputs_name_the_argument(params: dict, X: object, y: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        TierClassifier(**params).fit(X, y)


def test_unfitted_and_wrong_width_inputs_raise(embedded: np.ndarray, labelled: tuple) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        TierClassifier().predict(embedded)
    model = TierClassifier().fit(embedded, labelled[1])
    with pytest.raises(InvalidInputError, match="X has 383 features, but TierClassifier is expecting 384"):
        model.predict(embedded[:, 1:])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(2, 4),
    n_per=st.integers(3, 30),
    labels_as=st.sampled_from(["int", "str"]),
)
def test_any_labels_fit_and_predict_their_own_classes(seed: int, k: int, n_per: int, labels_as: str) -> None:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per)
    X = rng.normal(size=(y.size, 5)).astype(np.float32) + 3.0 * np.eye(k, 5, dtype=np.float32)[y]
    labels = y if labels_as == "int" else np.array([f"tier{c}" for c in y])
    model = TierClassifier(seed=seed % 1000).fit(X, labels)
    assert list(model.classes_) == sorted(set(labels.tolist()))
    assert set(model.predict(X).tolist()) <= set(labels.tolist())
    proba = model.predict_proba(X)
    assert proba.shape == (y.size, k) and np.all(np.isfinite(proba))
    assert model.metrics_["n_train"] + model.metrics_["n_holdout"] == y.size
