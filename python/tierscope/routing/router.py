"""The router: a pretrained encoder + a calibrated head + a long-tail score, run from Rust.

A router is a directory holding ``model.onnx``, ``tokenizer.json`` and ``router.json``. Tiers are
ordered from the cheapest to the most capable; when routing a query fails (or a configured
threshold is not met) the decision is the fallback tier (by default the most capable one) with
``fallback=True`` and the reason: never silently the cheap tier.

A router may carry a **precision guard** (``guard.json`` and a ``guard/`` router directory, as the
default int8 router does): the fp32 router its int8 encoder was quantised from, and the largest
int8-vs-fp32 probability error measured at build time (``margin``). A query whose int8 decision is
closer than ``2 * margin`` between its top two tiers, where int8 error could change the tier, is
decided again by the fp32 router (``guarded=True``); every other decision provably matches the fp32
router's up to that margin. Its cost is the share of such queries (about 3 % on BANKING77).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core
from .._runtime import ort_search_dirs
from ..exceptions import InvalidInputError, TierscopeError
from .records import Decision, RouteBatch

__all__ = ["Decision", "RouteBatch", "Router", "default_router_dir"]

DEFAULT_ROUTER_ENV = "TIERSCOPE_DEFAULT_ROUTER"
#: File (beside ``router.json``) describing a router's precision guard.
GUARD_FILE = "guard.json"


def default_router_dir() -> Path:
    """Where :meth:`Router.default` looks: ``$TIERSCOPE_DEFAULT_ROUTER`` or the user cache."""
    override = os.environ.get(DEFAULT_ROUTER_ENV)
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tierscope" / "routers" / "default-minilm-int8-v1"


def _columns(core: _core.RouteColumns) -> dict[str, Any]:
    """The core's routing columns as the keyword arguments of :class:`RouteBatch` (a dict, so the
    precision guard can overwrite rows in place)."""
    return {
        "tier_index": core.tier_index,
        "probabilities": core.probabilities,
        "confidence": core.confidence,
        "tail_score": core.tail_score,
        "fallback": core.fallback,
        "truncated": core.truncated,
        "tokens": core.tokens,
        "reason": core.reason,
        "embeddings": core.embeddings,
    }


class Router:
    """A loaded router. Thread-safe: share one instance across threads.

    Use :meth:`load`, :meth:`default` or :meth:`fit` to get one.
    """

    def __init__(self, core: _core.RouterCore) -> None:
        if not isinstance(core, _core.RouterCore):
            raise InvalidInputError(
                "Router(core): expected a tierscope._core.RouterCore; "
                "use Router.load(path) or Router.default()"
            )
        self._core = core
        self._config: dict[str, Any] = json.loads(core.config_json())
        self._tiers: tuple[str, ...] = tuple(core.tiers)
        fallback = self._config.get("fallback_tier") or self._tiers[-1]
        self._fallback_index = self._tiers.index(fallback)
        self._guard: Router | None = None
        self._guard_spec: dict[str, Any] | None = None

    def _attach_guard(self, guard: Router, spec: dict[str, Any]) -> None:
        """Use ``guard`` for decisions whose top-two gap is below ``2 * spec["margin"]``."""
        margin = spec.get("margin")
        if not isinstance(margin, (int, float)) or not 0.0 <= float(margin) < 0.5:
            raise InvalidInputError(f"{GUARD_FILE}: margin must be a number in [0, 0.5), got {margin!r}")
        if guard.tiers != self._tiers:
            raise InvalidInputError(
                f"{GUARD_FILE}: the guard router's tiers {guard.tiers} differ from {self._tiers}"
            )
        self._guard, self._guard_spec = guard, dict(spec)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        sessions: int | None = None,
        intra_threads: int | None = None,
        token_budget: int = 512,
        max_batch: int = 64,
        guard: bool = True,
    ) -> Router:
        """Load a router directory.

        ``sessions × intra_threads`` may not exceed the cores; the default is one single-threaded
        ONNX Runtime session per core (``TIERSCOPE_NUM_THREADS`` caps the total). ``guard=False``
        ignores a precision guard (int8 decisions only; see the module docs).
        """
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidInputError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        options: dict[str, Any] = dict(
            sessions=sessions, intra_threads=intra_threads, token_budget=token_budget, max_batch=max_batch
        )
        core = _core.RouterCore.load(os.fspath(path), **options, ort_search_dirs=ort_search_dirs())
        router = cls(core)
        guard_file = Path(path) / GUARD_FILE
        if guard and guard_file.is_file():
            try:
                spec = json.loads(guard_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise InvalidInputError(
                    f"{guard_file}: not a readable JSON guard description ({err})"
                ) from err
            directory = spec.get("router") if isinstance(spec, dict) else None
            if (
                not isinstance(directory, str)
                or Path(directory).is_absolute()
                or ".." in Path(directory).parts
            ):
                raise InvalidInputError(f"{guard_file}: 'router' must name a subdirectory, got {directory!r}")
            router._attach_guard(cls.load(Path(path) / directory, **options, guard=False), spec)
        return router

    @classmethod
    def default(cls, *, build_if_missing: bool = True, **load_options: Any) -> Router:
        """The embedded default router: all-MiniLM-L6-v2 (static int8) with a two-tier head trained
        on BANKING77 (see :mod:`tierscope.models.default_router`). Built on first use when its
        build dependencies are installed (the ``[default-model]`` extra).
        """
        directory = default_router_dir()
        if not (directory / "router.json").is_file():
            # The build is the optional models layer (it imports routing); it is looked up at run
            # time, and only when the files are missing, so routing never imports it.
            models = importlib.import_module("tierscope.models.default_router")
            directory = models.ensure_default_router(build_if_missing=build_if_missing)
        return cls.load(directory, **load_options)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        tiers: Sequence[str],
        *,
        encoder: str | os.PathLike[str] | Router,
        tier_order: Sequence[str] | None = None,
        holdout_fraction: float = 0.2,
        l2: float = 1e-4,
        seed: int = 0,
        shrinkage: float = 0.1,
        min_confidence: float | None = None,
        max_length: int = 128,
        provenance: dict[str, Any] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        sessions: int | None = None,
        intra_threads: int | None = None,
    ) -> Router:
        """Train a router head on labelled texts, without torch.

        Embeds ``texts`` with ``encoder`` (a directory with ``model.onnx`` + ``tokenizer.json``, or a
        :class:`Router` whose encoder to reuse), holds out ``holdout_fraction`` of each tier, fits an
        L2 multinomial logistic regression in Rust, temperature-scales it on the held-out split,
        stores the tail-score statistics and the training confidence histogram, and reports
        held-out accuracy/ECE in :attr:`metrics`. Deterministic given ``seed``.

        ``tier_order`` lists the tiers from the cheapest to the most capable; it may be omitted only
        when the tiers are exactly ``cheap`` and ``capable``.
        """
        if isinstance(encoder, Router):
            source = encoder._core.source
            if source is None:
                raise InvalidInputError("encoder: a Router loaded from a directory (save it first)")
            encoder_dir = str(source)
        elif isinstance(encoder, (str, os.PathLike)):
            encoder_dir = os.fspath(encoder)
        else:
            raise InvalidInputError(
                f"encoder: expected a directory path or a Router, got {type(encoder).__name__}"
            )
        if isinstance(texts, str) or isinstance(tiers, str):
            raise InvalidInputError("texts/tiers: expected lists of str, not a single str")
        texts = list(texts)
        tiers = list(tiers)
        if tier_order is None:
            labels = {t for t in tiers if isinstance(t, str)}
            if labels == {"cheap", "capable"}:
                tier_order = ["cheap", "capable"]
            else:
                raise InvalidInputError(
                    f"tier_order: required unless the tiers are exactly 'cheap' and 'capable' "
                    f"(got {sorted(labels)[:10]}); list them from the cheapest to the most capable"
                )
        core = _core.fit_router(
            encoder_dir,
            texts,
            tiers,
            tier_order=list(tier_order),
            holdout_fraction=holdout_fraction,
            l2=l2,
            seed=seed,
            shrinkage=shrinkage,
            min_confidence=min_confidence,
            max_length=max_length,
            provenance_json=None if provenance is None else json.dumps(provenance),
            sessions=sessions,
            intra_threads=intra_threads,
            ort_search_dirs=ort_search_dirs(),
        )
        router = cls(core)
        if out_dir is not None:
            router.save(out_dir)
            return cls.load(out_dir, sessions=sessions, intra_threads=intra_threads)
        return router

    # -- routing ------------------------------------------------------------------------------
    def route(self, text: str) -> Decision:
        """Route one query. Bad arguments raise; routing failures return the fallback tier."""
        if not isinstance(text, str):
            raise InvalidInputError(f"text: expected a str, got {type(text).__name__}")
        return self.route_batch([text])[0]

    def route_batch(self, texts: Sequence[str], *, with_embeddings: bool = False) -> RouteBatch:
        """Route many queries (GIL released, batched by length, results in input order)."""
        if isinstance(texts, str):
            raise InvalidInputError("texts: expected a list of str, got a single str (use route())")
        if not isinstance(texts, (list, tuple)):
            if isinstance(texts, np.ndarray) or hasattr(texts, "__iter__"):
                texts = list(texts)
            else:
                raise InvalidInputError(f"texts: expected a list of str, got {type(texts).__name__}")
        try:
            raw = _columns(self._core.route_batch(texts, with_embeddings=with_embeddings))
        except InvalidInputError:
            raise
        except TierscopeError as err:
            # Fail safe: a broken runtime must not send traffic to the cheap tier.
            return RouteBatch._all_fallback(
                self._tiers, self._fallback_index, len(texts), f"{type(err).__name__}: {err}"
            )
        return RouteBatch._from_core(self._tiers, self._apply_guard(texts, raw, with_embeddings))

    def _apply_guard(
        self, texts: Sequence[str], raw: dict[str, Any], with_embeddings: bool
    ) -> dict[str, Any]:
        """Re-decide with the fp32 guard the rows whose top-two gap is within int8 error (a router
        without a guard returns ``raw`` as it is)."""
        if self._guard is None or self._guard_spec is None:
            return raw
        probabilities = raw["probabilities"]
        n = probabilities.shape[0]
        guarded = np.zeros(n, dtype=bool)
        if n and probabilities.shape[1] >= 2:
            top_two = np.sort(probabilities, axis=1)[:, -2:]
            gap = top_two[:, 1] - top_two[:, 0]
            # NaN gaps (failed rows) compare False: they keep their fallback decision.
            guarded = ~raw["fallback"] & (gap < 2.0 * float(self._guard_spec["margin"]))
        rows = np.flatnonzero(guarded)
        if rows.size:
            try:
                again = _columns(
                    self._guard._core.route_batch(
                        [texts[int(i)] for i in rows], with_embeddings=with_embeddings
                    )
                )
            except InvalidInputError:
                raise
            except TierscopeError:
                guarded[:] = False  # the int8 decisions stand: they are valid, only less certain
            else:
                ok = ~again["fallback"]  # a row the guard cannot route keeps its int8 decision
                rows, guarded[rows[~ok]] = rows[ok], False
                for key, column in raw.items():
                    if isinstance(column, np.ndarray):
                        column[rows] = again[key][ok]
                    elif isinstance(column, list):
                        picked = [again[key][j] for j in np.flatnonzero(ok)]
                        for i, value in zip(rows, picked, strict=True):
                            column[i] = value
        return {**raw, "guarded": guarded}

    # -- persistence and introspection ------------------------------------------------------
    @property
    def guard(self) -> dict[str, Any] | None:
        """The precision guard's description (``margin`` and how it was measured), or ``None``."""
        return None if self._guard_spec is None else dict(self._guard_spec)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the router directory (model.onnx, tokenizer.json, router.json, and the guard)."""
        self._core.save(os.fspath(path))
        if self._guard is not None and self._guard_spec is not None:
            self._guard.save(Path(path) / self._guard_spec["router"])
            (Path(path) / GUARD_FILE).write_text(json.dumps(self._guard_spec, indent=2), encoding="utf-8")

    @property
    def tiers(self) -> tuple[str, ...]:
        """Tier names, cheapest first."""
        return self._tiers

    @property
    def fallback_tier(self) -> str:
        """The tier used when routing fails."""
        return self._tiers[self._fallback_index]

    @property
    def config(self) -> dict[str, Any]:
        """The parsed ``router.json``."""
        return self._config

    @property
    def metrics(self) -> dict[str, Any]:
        """Held-out metrics recorded at training time."""
        return dict(self._config.get("metrics") or {})

    @property
    def reference(self) -> dict[str, Any] | None:
        """Training reference distributions (confidence histogram, quantiles, tier shares)."""
        ref = self._config.get("reference")
        return None if ref is None else dict(ref)

    @property
    def threads(self) -> tuple[int, int]:
        """``(sessions, intra_threads)`` in use."""
        return self._core.threads

    @property
    def path(self) -> Path | None:
        """The directory this router was loaded from."""
        src = self._core.source
        return None if src is None else Path(src)

    def __repr__(self) -> str:
        guard = "" if self._guard_spec is None else f", guard_margin={self._guard_spec['margin']:.3g}"
        return f"Router(tiers={self._tiers!r}, path={str(self.path)!r}, threads={self.threads}{guard})"
