"""scikit-learn's own estimator checks on TierClassifier (embeddings mode), when scikit-learn is
installed (a test-only dependency: tierscope never imports it)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from tierscope.routing import TierClassifier  # noqa: E402

#: Checks TierClassifier fails on purpose, and why.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_dtype_object": (
        "a dict inside X raises InvalidInputError, a ValueError (tierscope's one class for bad "
        "arguments), where scikit-learn expects a TypeError"
    ),
    "check_supervised_y_2d": (
        "a column-vector y is refused with a message naming `y`, never ravelled with a "
        "DataConversionWarning (no silent coercion of arguments)"
    ),
}


with warnings.catch_warnings():
    # TierClassifier implements the protocol without inheriting BaseEstimator (no sklearn import).
    warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn.base.BaseEstimator`")
    _CHECKS = parametrize_with_checks(
        [TierClassifier()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
    )


@_CHECKS
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_sklearn_compatible_estimator(estimator: Any, check: Any) -> None:
    check(estimator)


def test_it_works_in_sklearn_tooling() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    X = rng.normal(size=(y.size, 8)) + 2.5 * np.eye(3, 8)[y]
    scores = cross_val_score(make_pipeline(StandardScaler(), TierClassifier()), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    copy = clone(TierClassifier(l2=0.3))
    assert copy.get_params()["l2"] == 0.3
    assert sklearn.base.is_classifier(TierClassifier())
