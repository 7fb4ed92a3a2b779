"""A scikit-learn-shaped estimator over the router's Rust head trainer, without scikit-learn.

:class:`TierClassifier` follows the estimator contract (``__init__`` stores its parameters,
``fit`` learns attributes ending in ``_``, ``get_params``/``set_params``, ``__sklearn_tags__``),
so it drops into cross-validation, pipelines and ``clone`` when scikit-learn is installed, and
works the same without it. ``fit(X, y)`` takes either texts (embedded with ``encoder``, a
:class:`~tierscope.routing.Router` or a router directory) or a 2-D array of precomputed
embeddings, and trains the head :meth:`Router.fit` trains: an L2 multinomial logistic
regression (L-BFGS, in Rust, GIL released) temperature-scaled on a stratified held-out split
(same split, same seed semantics). Given the same embeddings and ``classes`` in tier order, its
``coef_``/``intercept_``/``temperature_`` are the head ``Router.fit`` writes to ``router.json``.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from .. import _validate as v
from ..exceptions import InvalidInputError
from . import _inputs
from .router import Router

__all__ = ["NotFittedError", "TierClassifier"]

_PARAMS = ("encoder", "classes", "l2", "holdout_fraction", "seed", "max_iter")


class NotFittedError(InvalidInputError, AttributeError):
    """The estimator was used before :meth:`TierClassifier.fit` (also an ``AttributeError``, as
    scikit-learn's ``NotFittedError`` is)."""


def _not_fitted() -> type[NotFittedError]:
    """:class:`NotFittedError`, also scikit-learn's ``NotFittedError`` when scikit-learn is
    already imported (so its tooling recognises it); scikit-learn is never imported here."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError
    with _NOT_FITTED_LOCK:
        if "both" not in _NOT_FITTED:
            both = type("NotFittedError", (NotFittedError, sklearn_exceptions.NotFittedError), {})
            both.__module__ = __name__
            _NOT_FITTED["both"] = both
        return _NOT_FITTED["both"]


_NOT_FITTED: dict[str, type[NotFittedError]] = {}
_NOT_FITTED_LOCK = threading.Lock()


def _labels_of(y: Any, n: int, classes: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """``(classes_, codes)``: the class labels (sorted, or ``classes`` in its given order) and each
    row's index among them. Continuous, missing or 2-D targets are refused."""
    if y is None:
        raise InvalidInputError(
            "invalid `y`: TierClassifier requires y to be passed, but the target y is None"
        )
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise v.fail("y", f"a 1-D array of labels, got shape {labels.shape} (pass y.ravel())")
    if labels.shape[0] != n:
        raise v.fail("y", f"one label per row of X: got {n} rows and {labels.shape[0]} labels")
    if labels.dtype.kind == "f":
        if np.isnan(labels).any():
            raise v.fail("y", "labels without NaN (Input y contains NaN)")
        if np.isinf(labels).any():
            raise v.fail("y", "finite labels (Input y contains infinity)")
        if not np.all(labels == np.round(labels)):
            raise v.fail("y", "class labels (Unknown label type: continuous)")
    if labels.dtype.kind == "c":
        raise v.fail("y", "class labels (Complex data not supported)")
    if classes is None:
        found, codes = np.unique(labels, return_inverse=True)
    else:
        found = np.asarray(list(classes))
        if found.ndim != 1 or len(set(found.tolist())) != found.shape[0]:
            raise v.fail("classes", "a sequence of distinct labels", classes)
        index = {label: i for i, label in enumerate(found.tolist())}
        missing = [label for label in np.unique(labels).tolist() if label not in index]
        if missing:
            raise v.fail("y", f"labels among classes {found.tolist()[:10]}, found {missing[:5]}")
        codes = np.fromiter((index[label] for label in labels.tolist()), dtype=np.int64, count=n)
    if found.shape[0] < 2:
        raise v.fail("y", f"at least 2 classes, got 1 class ({found.tolist()})")
    counts = np.bincount(codes, minlength=found.shape[0])
    if counts.min() < 2:
        label = found[int(np.argmin(counts))].item()
        raise v.fail(
            "y",
            "at least 2 examples of every class (one goes to the held-out split), "
            f"class {label!r} has {int(counts.min())}",
        )
    return found, codes.astype(np.int64, copy=False)


class TierClassifier:
    """An L2 logistic head with temperature calibration, trained in Rust; scikit-learn-compatible.

    Parameters (stored as given; checked by :meth:`fit`):

    - ``encoder``: a :class:`~tierscope.routing.Router` or a router directory whose encoder
      embeds texts passed as ``X`` (its own encoder, never its fp32 precision guard); ``None``
      when ``X`` is always an embedding matrix.
    - ``classes``: the class labels in a fixed order (tiers cheapest first, as
      :meth:`Router.fit`'s ``tier_order``); ``None``: the sorted distinct labels of ``y``.
    - ``l2``, ``holdout_fraction``, ``seed``, ``max_iter``: as in :meth:`Router.fit` (the held-out
      split calibrates the temperature and gives :attr:`metrics_`).

    Fitted attributes: ``classes_``, ``n_features_in_``, ``coef_`` (``k × d``), ``intercept_``,
    ``temperature_``, ``n_iter_`` and ``metrics_`` (held-out accuracy and ECE before/after the
    temperature, split sizes).
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        classes: Any = None,
        l2: float = 1e-4,
        holdout_fraction: float = 0.2,
        seed: int = 0,
        max_iter: int = 500,
    ) -> None:
        self.encoder = encoder
        self.classes = classes
        self.l2 = l2
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.max_iter = max_iter

    # -- the estimator protocol --------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (``deep`` is accepted for scikit-learn; there are no
        nested estimators)."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> TierClassifier:
        """Set constructor parameters by name; unknown names raise (values are checked by fit)."""
        for name, value in params.items():
            if name not in _PARAMS:
                raise v.fail(name, f"a parameter of TierClassifier ({', '.join(_PARAMS)})")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        shown = [f"{n}={getattr(self, n)!r}" for n in _PARAMS if not _is_default(n, getattr(self, n))]
        return f"TierClassifier({', '.join(shown)})"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (only called by scikit-learn, so it is imported only then)."""
        utils = importlib.import_module("sklearn.utils")
        return utils.Tags(
            estimator_type="classifier",
            target_tags=utils.TargetTags(required=True),
            transformer_tags=utils.TransformerTags(preserves_dtype=["float32"]),
            classifier_tags=utils.ClassifierTags(),
            regressor_tags=None,
            input_tags=utils.InputTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    def __getstate__(self) -> dict[str, Any]:
        # The loaded encoder is a cache: rebuilt from the `encoder` parameter after unpickling.
        return {k: x for k, x in self.__dict__.items() if k != "_loaded_encoder"}

    # -- features ----------------------------------------------------------------------------
    def _router(self) -> Router:
        """The router whose encoder embeds texts (loaded once from a path, without its guard)."""
        cached: Router | None = self.__dict__.get("_loaded_encoder")
        if cached is not None:
            return cached
        encoder = self.encoder
        if encoder is None:
            raise v.fail("encoder", "a Router or a router directory to embed texts (X holds texts)")
        if isinstance(encoder, Router):
            router = encoder
        elif isinstance(encoder, (str, os.PathLike)):
            router = Router.load(encoder, guard=False)
        else:
            raise v.fail("encoder", "a Router, a router directory or None", encoder)
        self.__dict__["_loaded_encoder"] = router
        return router

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` from the encoder's own session (never the precision guard)."""
        columns = self._router()._core.route_batch(texts, with_embeddings=True)
        embeddings = columns.embeddings
        if embeddings is None:  # pragma: no cover - the core always returns them when asked
            raise InvalidInputError("invalid `encoder`: it returned no embeddings")
        bad = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
        if bad.size:
            i = int(bad[0])
            raise v.fail(f"X[{i}]", f"a text the encoder can embed ({columns.reason[i]})")
        return np.ascontiguousarray(embeddings, dtype=np.float32)

    def _features(self, X: Any) -> npt.NDArray[np.float32]:
        """``X`` as an ``n × d`` float32 matrix: texts are embedded, arrays checked."""
        if _inputs.is_text_column(X):
            return self._embed(_inputs.texts("X", X))
        if hasattr(X, "toarray") or "sparse" in type(X).__module__:
            raise v.fail("X", "a dense array (sparse input is not supported)")
        try:
            matrix = np.asarray(X)
        except (TypeError, ValueError) as err:
            raise v.fail("X", f"texts or a 2-D array of numbers ({err})", cause=err) from None
        if matrix.dtype.kind == "c":
            raise v.fail("X", "real numbers (Complex data not supported)")
        if matrix.ndim != 2:
            raise v.fail(
                "X",
                f"texts or a 2-D array of embeddings, got an array of shape {matrix.shape} "
                "(a 2-D array is expected: Reshape your data)",
            )
        if matrix.shape[0] == 0 or matrix.shape[1] == 0:
            raise v.fail(
                "X",
                f"at least one row and one column: got {matrix.shape[0]} sample(s), "
                f"{matrix.shape[1]} feature(s) (shape={matrix.shape}) while a minimum of 1 is required.",
            )
        try:
            features = np.ascontiguousarray(matrix, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise v.fail("X", f"numbers (argument must be a string or a number: {err})", cause=err) from None
        if not np.isfinite(features).all():
            raise v.fail("X", "finite numbers (Input X contains NaN or infinity)")
        return features

    def _checked(self, X: Any) -> npt.NDArray[np.float32]:
        if not self.__sklearn_is_fitted__():
            raise _not_fitted()(
                "This TierClassifier instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )
        features = self._features(X)
        if features.shape[1] != self.n_features_in_:
            raise v.fail(
                "X",
                f"X has {features.shape[1]} features, but TierClassifier is expecting "
                f"{self.n_features_in_} features as input",
            )
        return features

    # -- fit and predict ---------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> TierClassifier:
        """Train the head on texts (embedded with ``encoder``) or embeddings ``X`` and labels ``y``."""
        options: dict[str, Any] = dict(
            l2=v.real("l2", self.l2, minimum=0.0),
            holdout_fraction=v.unit("holdout_fraction", self.holdout_fraction, open_interval=True),
            seed=v.integer("seed", self.seed, minimum=0, maximum=v.USIZE_MAX),
            max_iter=v.integer("max_iter", self.max_iter, minimum=1, maximum=v.INT64_MAX),
        )
        if _inputs.is_text_column(X):
            # Labels are checked before any text is embedded (the expensive part).
            texts = _inputs.texts("X", X)
            classes, codes = _labels_of(y, len(texts), self.classes)
            features = self._embed(texts)
        else:
            features = self._features(X)
            classes, codes = _labels_of(y, int(features.shape[0]), self.classes)
        fitted = _core.fit_head(features, codes, int(classes.shape[0]), **options)
        self.classes_ = classes
        self.n_features_in_ = int(features.shape[1])
        self.coef_ = np.asarray(fitted.weights)
        self.intercept_ = np.asarray(fitted.bias)
        self.temperature_ = float(fitted.temperature)
        self.n_iter_ = int(fitted.iterations)
        self.metrics_ = {
            "holdout_accuracy": fitted.holdout_accuracy,
            "holdout_ece": fitted.holdout_ece,
            "holdout_ece_uncalibrated": fitted.holdout_ece_uncalibrated,
            "n_train": fitted.n_train,
            "n_holdout": fitted.n_holdout,
        }
        return self

    def decision_logits(self, X: Any) -> npt.NDArray[np.float64]:
        """Temperature-scaled logits, ``n × k`` (``softmax`` of them is :meth:`predict_proba`)."""
        features = self._checked(X).astype(np.float64)
        logits: npt.NDArray[np.float64] = (features @ self.coef_.T + self.intercept_) / self.temperature_
        return logits

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """Calibrated class probabilities, ``n × k``, columns in :attr:`classes_` order."""
        logits = self.decision_logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs

    def predict_log_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """``log(predict_proba(X))``, computed stably."""
        logits = self.decision_logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        out: npt.NDArray[np.float64] = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return out

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The most probable class of each row."""
        best = np.argmax(self.decision_logits(X), axis=1)
        predicted: npt.NDArray[Any] = self.classes_[best]
        return predicted

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of :meth:`predict` on ``X`` against ``y`` (optionally weighted)."""
        truth = np.asarray(y)
        predicted = self.predict(X)
        if truth.shape != predicted.shape:
            raise v.fail("y", f"one label per row of X ({predicted.shape[0]}), got shape {truth.shape}")
        hits = (predicted == truth).astype(np.float64)
        if sample_weight is None:
            return float(hits.mean())
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != hits.shape or not np.isfinite(weights).all() or (weights < 0).any():
            raise v.fail("sample_weight", "one finite non-negative weight per row", sample_weight)
        return float((hits * weights).sum() / weights.sum())

    def transform(self, X: Any) -> npt.NDArray[np.float32]:
        """The embeddings of ``X``: texts are embedded with ``encoder``; an embedding matrix is
        returned as float32 (checked like the input of :meth:`predict`)."""
        return self._checked(X)

    def fit_transform(self, X: Any, y: Any) -> npt.NDArray[np.float32]:
        """:meth:`fit`, then :meth:`transform` of the same ``X`` (texts are embedded once)."""
        features = self._features(X)
        self.fit(features, y)
        return features


def _is_default(name: str, value: Any) -> bool:
    default = _DEFAULTS[name]
    if value is default:
        return True
    plain = isinstance(value, (int, float, str)) and not isinstance(value, bool)
    return plain and type(value) is type(default) and bool(value == default)


_DEFAULTS: dict[str, Any] = {
    "encoder": None,
    "classes": None,
    "l2": 1e-4,
    "holdout_fraction": 0.2,
    "seed": 0,
    "max_iter": 500,
}
