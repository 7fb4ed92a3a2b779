"""A trained answer verifier: calibrated P(answer acceptable | query, answer) on the router's encoder.

A pre-router sees only the query; a verifier sees the cheap model's answer too, which is where the
signal is (on GSM8K, query-only routers are near chance; see the README's verifier section).
:meth:`Verifier.fit` trains, without torch, on the same MiniLM encoder as the router:

1. **Features** (``design``):

   - ``"pair"`` (default): the query's embedding ``q`` (its first ``query_chars`` characters)
     and the answer's embedding ``a`` (its last ``answer_tail_chars`` characters: a long answer's
     *tail* holds the final result), combined as ``[q, a, q * a, |q - a|]`` (4 x 384 numbers);
   - ``"joint"``: one embedding of ``"<query head> [SEP] <answer tail>"``.

   The encoder reads at most its ``max_length`` (128) tokens of each text, from the start, so the
   answer is cut to its tail *before* encoding (on a word boundary) to keep the end in view.
2. **Head**: an L2-penalised logistic regression on standardised features, fitted by Newton's
   method with ``class_weight`` (``"balanced"`` by default: each class weighs half). ``l2`` is a
   number or a list of candidates (default ``(0.1, 1.0, 10.0)``), then picked by 3-fold
   cross-validated log-loss on the fitting split (its out-of-fold AUROC is ``metrics["cv_auroc"]``).
3. **Calibration** on a held-out split (``calibration_fraction`` of each class, seeded): Platt
   scaling of the head's logit (``"platt"``: a temperature and a bias) or ``"isotonic"``
   (:mod:`tierscope.routing.calibration`).
4. **Metrics** on that held-out split, stored in :attr:`metrics` and ``verifier.json``: AUROC
   (the head never saw these rows), Brier score and ECE (10 equal-width bins) of the uncalibrated
   and the calibrated scores; the calibrated ones are cross-fitted (calibrator fitted on one half
   of the split, measured on the other, and back) so they are not measured on their own fit.

:meth:`save` writes ``verifier.json`` (design, cut lengths, calibrator, metrics, and the encoder
*referenced by path* with the SHA-256 of its ``model.onnx`` and ``tokenizer.json``, checked at
:meth:`load`) and ``verifier_head.npz`` (the head's weights; no pickle). The encoder is not copied.

:meth:`score` is batched: one encoder call for all texts (GIL released in the Rust core, the same
path as :meth:`tierscope.Router.route_batch`), then a dot product; a pair's score does not depend
on the batch it is in. :meth:`__call__` makes a verifier a ``Cascade(confidence=...)`` function.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from .. import _validate as v
from ..exceptions import InvalidInputError, ModelLoadError, TierscopeError
from ..routing.calibration import IsotonicCalibrator, PlattCalibrator
from ..routing.router import Router
from ..stats.logistic import sigmoid
from ._answers import answer_text

__all__ = ["Verifier", "Design", "CalibrationMethod", "VERIFIER_FILE", "HEAD_FILE", "DESIGN_DEFAULTS"]

Design = Literal["pair", "joint"]
CalibrationMethod = Literal["platt", "isotonic"]
VERIFIER_FILE = "verifier.json"
HEAD_FILE = "verifier_head.npz"
FORMAT = "tierscope-verifier"
FORMAT_VERSION = 1
SEP = " [SEP] "
#: ``(query_chars, answer_tail_chars)`` per design: the joint text must fit both in 128 tokens.
DESIGN_DEFAULTS: dict[str, tuple[int, int]] = {"pair": (600, 300), "joint": (150, 200)}
_MIN_PER_CLASS = 4  # per class and split: fewer cannot fit a head and calibrate it
_NEWTON_ITERS = 50

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# -- text cutting --------------------------------------------------------------------------------
def cut_tail(text: str, chars: int) -> str:
    """The last ``chars`` characters of ``text``, starting at a word boundary when one is near."""
    if len(text) <= chars:
        return text
    cut = text[-chars:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < chars // 4 else cut


def _cut_head(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars]


# -- the head: weighted L2 logistic regression by Newton's method ---------------------------------
@dataclass(frozen=True)
class _Head:
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float

    def logit(self, x: FloatArray) -> FloatArray:
        out: FloatArray = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return out


def _standardise(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-12, scale, 1.0)


def _fit_head(x: FloatArray, y: FloatArray, w: FloatArray, l2: float) -> _Head:
    """Minimise ``sum w_i logloss_i + 0.5 * l2 * sum(w) * |coef|^2`` (intercept unpenalised)."""
    mean, scale = _standardise(x)
    z = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])
    d = z.shape[1]
    penalty = np.full(d, l2 * float(w.sum()))
    penalty[-1] = 0.0
    beta = np.zeros(d)
    p0 = float(np.clip((w * y).sum() / w.sum(), 1e-6, 1 - 1e-6))
    beta[-1] = math.log(p0 / (1 - p0))
    for _ in range(_NEWTON_ITERS):  # bounded; converges in ~10 steps on embeddings
        p = sigmoid(z @ beta)
        grad = z.T @ (w * (p - y)) + penalty * beta
        hess = (z.T * (w * p * (1.0 - p) + 1e-12)) @ z
        hess[np.diag_indices(d)] += penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return _Head(mean=mean, scale=scale, coef=beta[:-1].copy(), intercept=float(beta[-1]))


def _cv_l2(
    x: FloatArray, y: FloatArray, w: FloatArray, grid: Sequence[float], seed: int
) -> tuple[float, FloatArray]:
    """The ``l2`` of ``grid`` with the lowest 3-fold weighted log-loss (folds stratified, seeded),
    and that ``l2``'s out-of-fold logits (a held-out AUROC over the whole fitting split)."""
    rng = np.random.default_rng(seed + 7)
    fold = np.empty(y.size, dtype=np.int64)
    for label in (0.0, 1.0):
        idx = np.flatnonzero(y == label)
        fold[idx] = rng.permutation(idx.size) % 3
    losses = []
    oof = np.zeros((len(grid), y.size))
    for j, l2 in enumerate(grid):
        loss = 0.0
        for k in range(3):
            tr, te = fold != k, fold == k
            oof[j, te] = _fit_head(x[tr], y[tr], w[tr], l2).logit(x[te])
            p = np.clip(sigmoid(oof[j, te]), 1e-12, 1 - 1e-12)
            loss += float(-(w[te] * (y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p))).sum())
        losses.append(loss)
    best = int(np.argmin(losses))
    return float(grid[best]), oof[best]


# -- metrics -----------------------------------------------------------------------------------------
def auroc(score: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """Area under the ROC curve (ties count half); NaN when a class is absent."""
    s = np.asarray(score, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ranks = (starts + (counts + 1) / 2.0)[inverse]  # average 1-based ranks of ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def ece(prob: npt.ArrayLike, positive: npt.ArrayLike, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins (weighted by bin size)."""
    p = np.asarray(prob, dtype=np.float64)
    y = np.asarray(positive, dtype=np.float64)
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += float(m.sum()) * abs(float(p[m].mean()) - float(y[m].mean()))
    return total / max(1, p.size)


def brier(prob: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """Mean squared error of the probabilities against the 0/1 outcomes."""
    p = np.asarray(prob, dtype=np.float64)
    return float(np.mean((p - np.asarray(positive, dtype=np.float64)) ** 2))


# -- calibrators --------------------------------------------------------------------------------------
_Calibrator = PlattCalibrator | IsotonicCalibrator


def _fit_calibrator(method: str, logit: FloatArray, y: FloatArray) -> _Calibrator:
    if method == "platt":
        return PlattCalibrator().fit(logit, y)
    return IsotonicCalibrator().fit(logit, y)


def _calibrator_spec(cal: _Calibrator) -> dict[str, Any]:
    if isinstance(cal, PlattCalibrator):
        return {"method": "platt", "a": cal.a, "b": cal.b}
    return {"method": "isotonic", "x": cal.x_.tolist(), "y": cal.y_.tolist()}


def _calibrator_from(spec: Any, where: str) -> _Calibrator:
    try:
        if spec["method"] == "platt":
            return PlattCalibrator(a=float(spec["a"]), b=float(spec["b"]))
        if spec["method"] == "isotonic":
            x = np.asarray(spec["x"], dtype=np.float64)
            y = np.asarray(spec["y"], dtype=np.float64)
            if x.ndim != 1 or x.shape != y.shape or x.size == 0:
                raise ValueError("x and y must be non-empty lists of the same length")
            return IsotonicCalibrator(x_=x, y_=y)
        raise ValueError(f"unknown method {spec['method']!r}")
    except (KeyError, TypeError, ValueError) as err:
        raise ModelLoadError(f"{where}: calibration: {err}") from err


# -- inputs -------------------------------------------------------------------------------------------
def _texts(name: str, values: Any, *, answers: bool = False) -> list[str]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{name}: expected a sequence of {'answers' if answers else 'strings'}")
    items = list(values)
    out = [answer_text(x, f"{name}[{i}]") if answers else x for i, x in enumerate(items)]
    for i, t in enumerate(out):
        v.text(f"{name}[{i}]", t)
    return out


def _labels(values: Any, n: int) -> FloatArray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size != n:
        raise InvalidInputError(f"acceptable: expected {n} booleans (one per answer), got shape {arr.shape}")
    if arr.dtype != np.bool_ and not np.isin(arr, (0, 1)).all():
        raise InvalidInputError("acceptable: expected booleans (or 0/1), one per answer")
    return arr.astype(np.float64)


def _class_weights(class_weight: Any, y: FloatArray) -> FloatArray:
    if class_weight is None:
        return np.ones_like(y)
    if class_weight == "balanced":
        n_pos = float(y.sum())
        n_neg = float(y.size - n_pos)
        return np.where(y > 0.5, y.size / (2.0 * n_pos), y.size / (2.0 * n_neg))
    if isinstance(class_weight, Mapping) and set(class_weight) <= {True, False} and len(class_weight) == 2:
        w_true = v.real("class_weight[True]", class_weight[True], minimum=0.0, min_open=True)
        w_false = v.real("class_weight[False]", class_weight[False], minimum=0.0, min_open=True)
        return np.where(y > 0.5, w_true, w_false)
    raise InvalidInputError(
        f"class_weight: expected None, 'balanced' or {{True: w, False: w}}, got {class_weight!r}"
    )


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _encoder_ref(encoder: Router) -> dict[str, Any]:
    root = encoder.path
    if root is None:
        raise InvalidInputError("encoder: the router has no directory (save it first, then load it)")
    cfg = encoder.config.get("model") or {}
    files = {
        k: str(cfg.get(k, default))
        for k, default in (("file", "model.onnx"), ("tokenizer", "tokenizer.json"))
    }
    return {
        "path": str(root.resolve()),
        "sha256": {name: _digest(root / name) for name in files.values()},
        "embedding_dim": int(cfg.get("embedding_dim", 0)),
        "max_length": int(cfg.get("max_length", 0)),
    }


def _as_router(encoder: Any, **load_options: Any) -> Router:
    if isinstance(encoder, Router):
        return encoder
    if isinstance(encoder, (str, os.PathLike)):
        return Router.load(encoder, guard=False, **load_options)
    raise InvalidInputError(
        "encoder: expected a router directory (str or path) or a tierscope.Router, "
        f"got {type(encoder).__name__}"
    )


def _split(y: FloatArray, fraction: float, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(fit_idx, calibration_idx)``: ``fraction`` of each class held out, seeded; both sorted."""
    rng = np.random.default_rng(seed)
    fit: list[int] = []
    cal: list[int] = []
    for label in (0.0, 1.0):
        idx = np.flatnonzero(y == label)
        perm = rng.permutation(idx)
        n_cal = int(round(fraction * idx.size))
        cal.extend(perm[:n_cal].tolist())
        fit.extend(perm[n_cal:].tolist())
    return np.sort(np.array(fit, dtype=np.int64)), np.sort(np.array(cal, dtype=np.int64))


class Verifier:
    """A calibrated P(answer acceptable | query, answer). Thread-safe; see the module docstring.

    Get one with :meth:`fit` or :meth:`load`; score with :meth:`score` (batched) or call it as
    ``verifier(query, answer) -> float`` (a ``Cascade(confidence=verifier)`` function).
    """

    def __init__(self, encoder: Router, head: _Head, calibrator: _Calibrator, spec: dict[str, Any]) -> None:
        self._encoder = encoder
        self._head = head
        self._calibrator = calibrator
        self._spec = spec

    # -- fitting ----------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        queries: Sequence[str],
        answers: Sequence[Any],
        acceptable: npt.ArrayLike,
        *,
        encoder: str | os.PathLike[str] | Router,
        design: Design = "pair",
        query_chars: int | None = None,
        answer_tail_chars: int | None = None,
        calibration: CalibrationMethod = "platt",
        calibration_fraction: float = 0.3,
        class_weight: Literal["balanced"] | Mapping[bool, float] | None = "balanced",
        l2: float | Sequence[float] = (0.1, 1.0, 10.0),
        seed: int = 0,
        **load_options: Any,
    ) -> Verifier:
        """Train on labelled (query, answer, acceptable) triples; see the module docstring.

        ``encoder``: a router directory (loaded without its precision guard; ``load_options`` go
        to :meth:`tierscope.Router.load`) or a loaded :class:`~tierscope.Router`, whose encoder
        embeds the texts. ``answers``: strings or answer objects (their ``text``).
        ``query_chars``/``answer_tail_chars``: the query's head and the answer's tail kept
        (default per design: :data:`DESIGN_DEFAULTS`).
        """
        design = v.choice("design", design, get_args(Design))
        calibration = v.choice("calibration", calibration, get_args(CalibrationMethod))
        q_default, a_default = DESIGN_DEFAULTS[design]
        qc = v.integer("query_chars", q_default if query_chars is None else query_chars, minimum=1)
        ac = v.integer(
            "answer_tail_chars", a_default if answer_tail_chars is None else answer_tail_chars, minimum=1
        )
        frac = v.real(
            "calibration_fraction",
            calibration_fraction,
            minimum=0.0,
            maximum=1.0,
            min_open=True,
            max_open=True,
        )
        if isinstance(l2, (list, tuple)) and l2:
            grid = list(l2)
        elif isinstance(l2, (int, float)) and not isinstance(l2, bool):
            grid = [l2]
        else:
            raise InvalidInputError(f"l2: expected a positive number or a non-empty list of them, got {l2!r}")
        grid = [v.real(f"l2[{i}]", x, minimum=0.0, min_open=True) for i, x in enumerate(grid)]
        seed = v.integer("seed", seed, minimum=0)
        qs = _texts("queries", queries)
        ans = _texts("answers", answers, answers=True)
        if len(qs) != len(ans):
            raise InvalidInputError(
                f"queries/answers: expected the same length, got {len(qs)} and {len(ans)}"
            )
        y = _labels(acceptable, len(qs))
        n_pos = int(y.sum())
        if min(n_pos, y.size - n_pos) < 2 * _MIN_PER_CLASS:
            raise InvalidInputError(
                f"acceptable: expected at least {2 * _MIN_PER_CLASS} acceptable and {2 * _MIN_PER_CLASS} "
                f"unacceptable answers, got {n_pos} and {y.size - n_pos}"
            )
        weights = _class_weights(class_weight, y)
        for i, t in enumerate(ans):
            if not t.strip():
                raise InvalidInputError(f"answers[{i}]: expected a non-empty answer to learn from")
        fit_idx, cal_idx = _split(y, frac, seed)
        for name, idx, need in (("fitting", fit_idx, _MIN_PER_CLASS), ("calibration", cal_idx, 2)):
            k = int(y[idx].sum())
            if min(k, idx.size - k) < need:
                raise InvalidInputError(
                    f"calibration_fraction: {frac} leaves {k} acceptable and {idx.size - k} unacceptable "
                    f"answers in the {name} split; expected at least {need} of each"
                )
        router = _as_router(encoder, **load_options)
        spec: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "design": design,
            "query_chars": qc,
            "answer_tail_chars": ac,
            "encoder": _encoder_ref(router),
        }
        probe = cls(router, _Head(np.zeros(1), np.ones(1), np.zeros(1), 0.0), PlattCalibrator(), spec)
        x, truncated = probe._features(qs, ans)
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise InvalidInputError(f"queries[{bad}]/answers[{bad}]: the encoder could not embed this pair")
        oof: FloatArray | None = None
        chosen = grid[0]
        if len(grid) > 1:
            chosen, oof = _cv_l2(x[fit_idx], y[fit_idx], weights[fit_idx], grid, seed)
        head = _fit_head(x[fit_idx], y[fit_idx], weights[fit_idx], chosen)
        logit_cal = head.logit(x[cal_idx])
        y_cal = y[cal_idx]
        calibrator = _fit_calibrator(calibration, logit_cal, y_cal)
        spec.update(
            calibration=_calibrator_spec(calibrator),
            class_weight=class_weight
            if class_weight in (None, "balanced")
            else {str(k): float(w) for k, w in class_weight.items()},  # type: ignore[union-attr]
            l2=chosen,
            l2_grid=grid,
            seed=seed,
            metrics=_metrics(logit_cal, y_cal, calibration, seed, n_fit=fit_idx.size, truncated=truncated),
        )
        if oof is not None:  # l2 chosen by cross-validation: its out-of-fold AUROC is held-out too
            spec["metrics"]["cv_auroc"] = auroc(oof, y[fit_idx] > 0.5)
        return cls(router, head, calibrator, spec)

    # -- scoring ----------------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> tuple[FloatArray, BoolArray]:
        """Embeddings (float64, NaN rows where the encoder failed) and truncation flags."""
        if not texts:
            return np.zeros((0, int(self._spec["encoder"]["embedding_dim"]))), np.zeros(0, dtype=bool)
        # The core call, not Router.route_batch: a verifier has no use for a precision guard's
        # re-routing or a fallback tier, only the embeddings (GIL released inside).
        cols = self._encoder._core.route_batch(texts, with_embeddings=True)
        emb = cols.embeddings
        if emb is None:  # pragma: no cover - with_embeddings=True always returns them
            raise TierscopeError("the encoder returned no embeddings")
        return np.asarray(emb, dtype=np.float64), np.asarray(cols.truncated, dtype=bool)

    def _features(self, queries: list[str], answers: list[str]) -> tuple[FloatArray, BoolArray]:
        qc, ac = int(self._spec["query_chars"]), int(self._spec["answer_tail_chars"])
        tails = [cut_tail(a, ac) for a in answers]
        if self._spec["design"] == "joint":
            emb, truncated = self._embed(
                [_cut_head(q, qc) + SEP + t for q, t in zip(queries, tails, strict=True)]
            )
            return emb, truncated
        # Two encoder calls: a short query batched with a long answer would be padded to its length.
        q, _ = self._embed([_cut_head(q, qc) for q in queries])
        a, truncated = self._embed(tails)
        return np.hstack([q, a, q * a, np.abs(q - a)]), truncated

    def raw_logit(self, queries: Sequence[str], answers: Sequence[Any]) -> FloatArray:
        """The head's uncalibrated log-odds for each pair (NaN where a text could not be encoded)."""
        qs = _texts("queries", queries)
        ans = _texts("answers", answers, answers=True)
        if len(qs) != len(ans):
            raise InvalidInputError(
                f"queries/answers: expected the same length, got {len(qs)} and {len(ans)}"
            )
        x, _ = self._features(qs, ans)
        if x.shape[0] == 0:
            return np.zeros(0)
        logit = np.full(x.shape[0], np.nan)
        ok = np.isfinite(x).all(axis=1)
        # Row by row: the same arithmetic whatever the batch, so a score does not depend on it.
        for i in np.flatnonzero(ok):
            logit[i] = float(self._head.logit(x[i : i + 1])[0])
        return logit

    def score(self, queries: Sequence[str], answers: Sequence[Any]) -> FloatArray:
        """Calibrated P(acceptable) for each (query, answer) pair, in order (float64).

        A pair the encoder could not embed (an empty answer) scores NaN; a
        :class:`~tierscope.Cascade` escalates a NaN confidence (``confidence_invalid``).
        """
        logit = self.raw_logit(queries, answers)
        out = np.full(logit.shape, np.nan)
        ok = np.isfinite(logit)
        if ok.any():
            out[ok] = np.clip(self._calibrator.predict(logit[ok]), 0.0, 1.0)
        return out

    def __call__(self, query: str, answer: Any) -> float:
        """``score([query], [answer])[0]``: a ``Cascade(confidence=verifier)`` function."""
        v.text("query", query)
        return float(self.score([query], [answer_text(answer)])[0])

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``verifier.json`` and ``verifier_head.npz`` into ``path`` (created if missing)."""
        directory = v.output_dir("path", path)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (HEAD_FILE + ".tmp.npz")
        np.savez(
            tmp,
            mean=self._head.mean,
            scale=self._head.scale,
            coef=self._head.coef,
            intercept=np.array([self._head.intercept]),
        )
        os.replace(tmp, directory / HEAD_FILE)
        spec = {**self._spec, "head": HEAD_FILE}
        tmp_json = directory / (VERIFIER_FILE + ".tmp")
        tmp_json.write_text(json.dumps(spec, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp_json, directory / VERIFIER_FILE)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        encoder: str | os.PathLike[str] | Router | None = None,
        **load_options: Any,
    ) -> Verifier:
        """Load a saved verifier. ``encoder``: override the referenced encoder directory (e.g. after
        moving it) or pass a loaded :class:`~tierscope.Router`; its ``model.onnx`` and
        ``tokenizer.json`` must match the recorded SHA-256 (:class:`ModelLoadError` otherwise)."""
        directory = v.existing_dir("path", path, what="verifier directory")
        spec_file = directory / VERIFIER_FILE
        if not spec_file.is_file():
            raise ModelLoadError(f"{spec_file}: not found (not a verifier directory)")
        try:
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            if spec.get("format") != FORMAT or spec.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"expected format {FORMAT!r} version {FORMAT_VERSION}")
            if spec.get("design") not in get_args(Design):
                raise ValueError(f"unknown design {spec.get('design')!r}")
            ref = spec["encoder"]
            with np.load(directory / HEAD_FILE, allow_pickle=False) as z:
                head = _Head(
                    mean=np.asarray(z["mean"], np.float64),
                    scale=np.asarray(z["scale"], np.float64),
                    coef=np.asarray(z["coef"], np.float64),
                    intercept=float(z["intercept"][0]),
                )
            dim = int(ref["embedding_dim"]) * (4 if spec["design"] == "pair" else 1)
            ref_path, ref_sha = str(ref["path"]), dict(ref["sha256"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ModelLoadError(f"{directory}: cannot read the verifier: {err}") from err
        if not head.mean.shape == head.scale.shape == head.coef.shape == (dim,):
            raise ModelLoadError(f"{directory / HEAD_FILE}: expected {dim} weights per array")
        calibrator = _calibrator_from(spec.get("calibration"), str(spec_file))
        router = _as_router(encoder if encoder is not None else ref_path, **load_options)
        actual = _encoder_ref(router)
        if actual["sha256"] != ref_sha:
            raise ModelLoadError(
                f"{spec_file}: the encoder at {actual['path']} is not the one this verifier was trained on "
                f"(its model/tokenizer SHA-256 differ from those recorded)"
            )
        return cls(router, head, calibrator, spec)

    # -- facts ------------------------------------------------------------------------------------
    @property
    def metrics(self) -> dict[str, Any]:
        """Held-out metrics from :meth:`fit` (AUROC, ECE, Brier, sizes; see the module docstring)."""
        return dict(self._spec.get("metrics", {}))

    @property
    def config(self) -> dict[str, Any]:
        """Everything ``verifier.json`` records."""
        return json.loads(json.dumps(self._spec))  # type: ignore[no-any-return]

    @property
    def encoder(self) -> Router:
        """The router whose encoder embeds the texts."""
        return self._encoder

    def __repr__(self) -> str:
        m = self._spec.get("metrics", {})
        return f"Verifier(design={self._spec['design']!r}, auroc={m.get('auroc', float('nan')):.3f})"


def _metrics(
    logit: FloatArray, y: FloatArray, method: str, seed: int, *, n_fit: int, truncated: BoolArray
) -> dict[str, Any]:
    """Held-out metrics; the calibrated ones cross-fitted over two halves of the held-out split."""
    raw = sigmoid(logit)
    calibrated = np.full(y.size, np.nan)
    halves = _split(y, 0.5, seed + 1)
    for a, b in (halves, halves[::-1]):
        if min(int(y[a].sum()), int(a.size - y[a].sum())) >= 1:
            calibrated[b] = _fit_calibrator(method, logit[a], y[a]).predict(logit[b])
    have = np.isfinite(calibrated)
    return {
        "n_fit": int(n_fit),
        "n_calibration": int(y.size),
        "acceptable_rate": float(y.mean()),
        "auroc": auroc(logit, y > 0.5),
        "brier_uncalibrated": brier(raw, y),
        "ece_uncalibrated": ece(raw, y),
        "brier": brier(calibrated[have], y[have]) if have.any() else math.nan,
        "ece": ece(calibrated[have], y[have]) if have.any() else math.nan,
        "calibrated_metrics": "cross-fitted over two halves of the calibration split",
        "answers_truncated_share": float(truncated.mean()) if truncated.size else 0.0,
    }
