"""Decision records: what the router and the cascade decided, as flat frozen dataclasses.

They import nothing else from tierscope but its exceptions, so every layer above (the log, the
quality audits) can depend on them without depending on the routing machinery.

Serialised forms, both stable (tests pin them): :meth:`Decision.to_dict` is JSON-ready and
follows ``docs/decision.schema.json``; :meth:`RouteBatch.to_arrow` has the schema
:meth:`RouteBatch.arrow_schema` returns.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from .._optional import require
from ..exceptions import InvalidInputError

A = TypeVar("A")
"""The answer type of a :class:`~tierscope.routing.Cascade` (what its tiers return)."""

__all__ = [
    "Decision",
    "RouteBatch",
    "TierAnswer",
    "CascadeDecision",
    "CascadeResult",
    "DecisionSink",
    "ESCALATION_REASONS",
    "FALLBACK_REASONS",
]


@dataclass(frozen=True)
class Decision:
    """One routing decision."""

    tier: str
    """The chosen tier."""
    tier_index: int
    """Its position in :attr:`Router.tiers` (cheapest first)."""
    probabilities: dict[str, float]
    """Calibrated probability per tier (NaN when routing failed)."""
    confidence: float
    """The largest calibrated probability (NaN when routing failed)."""
    tail_score: float
    """Training-set percentile of the distance to the nearest tier centroid, in [0, 1]."""
    fallback: bool
    """True when the fallback tier was chosen because routing failed or a threshold was not met."""
    reason: str | None
    """Why the fallback tier was chosen."""
    truncated: bool = False
    """The text was longer than the model's max length (or the router's byte bound) and was cut."""
    tokens: int = 0
    """Tokens fed to the model."""
    embedding: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    """The pooled embedding, when requested."""
    guarded: bool = False
    """Decided by the router's fp32 precision guard (the int8 margin was within int8 error): every
    field of this decision, embedding and tail score included, then comes from the fp32 router."""
    content_discarded: bool = False
    """Part or all of the text never reached the model: it was longer than the router's byte bound
    (``max_length × 32`` bytes, or ``max_text_bytes``) and cut before tokenization, or none of its
    tokens is a real word (an empty text, or words the tokenizer only knows as ``[UNK]``). The
    decision then says little about the text; routing policy is unchanged."""
    region: int = -1
    """The region of the training distribution the query falls in (the nearest of the router's
    k-means centroids, ``regions.bin``), or -1 when the router has no regions or the text was not
    embedded (empty text, a failed row)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``json.dumps`` needs no ``default=``), valid against
        ``docs/decision.schema.json``: every field by name, NaN floats (a failed routing) as
        ``None``, the embedding as a list of floats (``None`` when not requested; its NaN entries
        as ``None`` too)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "embedding":
                # NaN entries (a row that never reached the model, e.g. empty text) as None.
                value = None if value is None else [_json_float(float(x)) for x in np.asarray(value).ravel()]
            elif f.name == "probabilities":
                value = {str(t): _json_float(p) for t, p in value.items()}
            elif isinstance(value, float):
                value = _json_float(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The decision :meth:`to_dict` wrote (``None`` floats back to NaN, the embedding back to
        a float32 array). Unknown or missing keys raise
        :class:`~tierscope.exceptions.InvalidInputError`."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"invalid `data`: expected a mapping, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(map(str, data)) - set(known))
        if unknown:
            raise InvalidInputError(f"invalid `data`: unknown Decision fields {unknown}")
        missing = [n for n, f in known.items() if n not in data and f.default is MISSING]
        if missing:
            raise InvalidInputError(f"invalid `data`: missing Decision fields {missing}")
        values = dict(data)
        for name in ("confidence", "tail_score"):
            values[name] = _nan_float(name, values[name])
        probs = values["probabilities"]
        if not isinstance(probs, Mapping):
            raise InvalidInputError("invalid `data['probabilities']`: expected a mapping tier -> probability")
        values["probabilities"] = {str(t): _nan_float(f"probabilities[{t!r}]", p) for t, p in probs.items()}
        if values.get("embedding") is not None:
            values["embedding"] = np.asarray(values["embedding"], dtype=np.float32)
        return cls(**values)


def _json_float(value: Any) -> float | None:
    """A float for JSON: NaN and infinities (never valid JSON) become ``None``."""
    number = float(value)
    return number if math.isfinite(number) else None


def _nan_float(name: str, value: Any) -> float:
    """The inverse of :func:`_json_float`: ``None`` is NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"invalid `data[{name!r}]`: expected a number or None, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RouteBatch:
    """Column-wise routing results, in input order. Columns are numpy arrays (no copies)."""

    tiers: tuple[str, ...]
    tier_index: npt.NDArray[np.uint32]
    probabilities: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    tail_score: npt.NDArray[np.float32]
    fallback: npt.NDArray[np.bool_]
    truncated: npt.NDArray[np.bool_]
    tokens: npt.NDArray[np.uint32]
    reason: list[str | None]
    embeddings: npt.NDArray[np.float32] | None = None
    guarded: npt.NDArray[np.bool_] | None = None
    """Per query: decided by the precision guard (``None``: the router has no guard)."""
    content_discarded: npt.NDArray[np.bool_] | None = None
    """Per query: see :attr:`Decision.content_discarded` (``None`` only in batches built by hand)."""
    region: npt.NDArray[np.int32] | None = None
    """Per query: see :attr:`Decision.region` (``None`` only in batches built by hand)."""

    def __len__(self) -> int:
        return int(self.tier_index.shape[0])

    @property
    def tier(self) -> npt.NDArray[np.object_]:
        """Tier names per query."""
        names = np.array(self.tiers, dtype=object)
        tiers: npt.NDArray[np.object_] = names[self.tier_index.astype(np.intp)]
        return tiers

    def __getitem__(self, i: int) -> Decision:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a batch of {len(self)}")
        i = i % len(self)
        index = int(self.tier_index[i])
        return Decision(
            tier=self.tiers[index],
            tier_index=index,
            probabilities={t: float(p) for t, p in zip(self.tiers, self.probabilities[i], strict=True)},
            confidence=float(self.confidence[i]),
            tail_score=float(self.tail_score[i]),
            fallback=bool(self.fallback[i]),
            reason=self.reason[i],
            truncated=bool(self.truncated[i]),
            tokens=int(self.tokens[i]),
            embedding=None if self.embeddings is None else self.embeddings[i],
            guarded=False if self.guarded is None else bool(self.guarded[i]),
            content_discarded=False if self.content_discarded is None else bool(self.content_discarded[i]),
            region=-1 if self.region is None else int(self.region[i]),
        )

    def __iter__(self) -> Iterator[Decision]:
        return (self[i] for i in range(len(self)))

    def columns(self) -> dict[str, Any]:
        """Flat columns: tier, tier_index, p_<tier>…, confidence, tail_score, flags, reason."""
        cols: dict[str, Any] = {"tier": self.tier, "tier_index": self.tier_index}
        for j, name in enumerate(self.tiers):
            cols[f"p_{name}"] = self.probabilities[:, j]
        cols.update(
            confidence=self.confidence,
            tail_score=self.tail_score,
            fallback=self.fallback,
            reason=self.reason,
            truncated=self.truncated,
            tokens=self.tokens,
            guarded=np.zeros(len(self), dtype=bool) if self.guarded is None else self.guarded,
            content_discarded=(
                np.zeros(len(self), dtype=bool) if self.content_discarded is None else self.content_discarded
            ),
        )
        cols["region"] = np.full(len(self), -1, dtype=np.int32) if self.region is None else self.region
        return cols

    def to_pandas(self) -> Any:
        """A pandas DataFrame (requires pandas)."""
        require("pandas", purpose="RouteBatch.to_pandas()")
        import pandas as pd

        return pd.DataFrame(self.columns())

    @staticmethod
    def arrow_schema(tiers: Sequence[str]) -> Any:
        """The schema of :meth:`to_arrow` for a router with ``tiers`` (stable; a test pins it):

        ``tier`` string, ``tier_index`` uint32, one ``p_<tier>`` float32 per tier (cheapest
        first), ``confidence`` float32, ``tail_score`` float32, ``fallback`` bool, ``reason``
        string (null unless the fallback tier was chosen), ``truncated`` bool, ``tokens`` uint32,
        ``guarded`` bool, ``content_discarded`` bool, ``region`` int32 (-1: none). NaN floats mark a
        failed routing."""
        import pyarrow as pa

        head = [("tier", pa.string()), ("tier_index", pa.uint32())]
        probs = [(f"p_{name}", pa.float32()) for name in tiers]
        rest = [
            ("confidence", pa.float32()),
            ("tail_score", pa.float32()),
            ("fallback", pa.bool_()),
            ("reason", pa.string()),
            ("truncated", pa.bool_()),
            ("tokens", pa.uint32()),
            ("guarded", pa.bool_()),
            ("content_discarded", pa.bool_()),
            ("region", pa.int32()),
        ]
        return pa.schema(head + probs + rest)

    def to_arrow(self) -> Any:
        """A pyarrow Table with the schema :meth:`arrow_schema` (requires pyarrow)."""
        try:
            import pyarrow as pa
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("RouteBatch.to_arrow() needs pyarrow: pip install pyarrow") from err
        cols = self.columns()
        cols["tier"] = pa.array(list(cols["tier"]), type=pa.string())
        cols["reason"] = pa.array(cols["reason"], type=pa.string())
        schema = self.arrow_schema(self.tiers)
        # Columns a later version adds to columns() follow the pinned ones, never reorder them.
        extra = [name for name in cols if name not in schema.names]
        table = pa.table({name: cols[name] for name in schema.names}, schema=schema)
        for name in extra:
            table = table.append_column(name, pa.array(cols[name]))
        return table

    @classmethod
    def _from_core(cls, tiers: Sequence[str], raw: dict[str, Any]) -> RouteBatch:
        return cls(tiers=tuple(tiers), **raw)

    @classmethod
    def _all_fallback(cls, tiers: Sequence[str], fallback_index: int, n: int, reason: str) -> RouteBatch:
        k = len(tiers)
        return cls(
            tiers=tuple(tiers),
            tier_index=np.full(n, fallback_index, dtype=np.uint32),
            probabilities=np.full((n, k), np.nan, dtype=np.float32),
            confidence=np.full(n, np.nan, dtype=np.float32),
            tail_score=np.full(n, np.nan, dtype=np.float32),
            fallback=np.ones(n, dtype=bool),
            truncated=np.zeros(n, dtype=bool),
            tokens=np.zeros(n, dtype=np.uint32),
            reason=[reason] * n,
            content_discarded=np.zeros(n, dtype=bool),
            region=np.full(n, -1, dtype=np.int32),
        )


FALLBACK_REASONS = frozenset(
    {"router_error", "router_fallback", "hard_rule_error", "cheap_error", "confidence_error",
     "confidence_invalid", "calibration_error"}
)  # fmt: skip
"""Escalation reasons that are failures (``fallback=True``)."""

ESCALATION_REASONS = FALLBACK_REASONS | {"hard_rule", "low_confidence", "cost_rule", "threshold_infeasible"}
"""Every value ``CascadeDecision.escalation_reason`` can take (besides ``None``)."""


@dataclass(frozen=True)
class TierAnswer:
    """What a tier callable may return. Any other object is accepted too (its ``model_id``,
    ``input_tokens``, ``output_tokens`` and ``cost`` attributes are read when present)."""

    text: str
    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    logprobs: Any = field(default=None, repr=False, compare=False)
    """The provider's token log-probabilities (``choices[0].logprobs``), when it returned them."""
    response: Any = field(default=None, repr=False, compare=False)
    """The provider's own response object (an OpenAI ``ChatCompletion``, a LiteLLM
    ``ModelResponse``, a LangChain ``AIMessage``), untouched: confidence functions such as
    ``logprob_confidence(tier_answer)`` read it duck-typed."""

    @classmethod
    def from_openai(cls, response: Any, *, prices: Any = None) -> TierAnswer:
        """A :class:`TierAnswer` from an OpenAI-format chat completion (an ``openai``
        ``ChatCompletion``, a LiteLLM ``ModelResponse`` or the same as a dict): the first
        choice's text and ``logprobs``, ``model``, ``usage.prompt_tokens`` /
        ``completion_tokens``, and the cost from ``prices`` (a
        :class:`~tierscope.routing.prices.Prices`, a mapping model -> (input, output) USD per
        million tokens, a JSON path, or None for the shipped table; an unknown model costs None).
        The response itself is kept in :attr:`response`."""
        from .prices import Prices

        table = Prices.coerce(prices)
        choices = _get(response, "choices")
        if not isinstance(choices, Sequence) or isinstance(choices, (str, bytes)):
            raise InvalidInputError(
                f"invalid `response`: expected an OpenAI-format chat completion with `choices`, "
                f"got {type(response).__name__}"
            )
        first = choices[0] if choices else None
        message = _get(first, "message")
        content = _get(message, "content")
        usage = _get(response, "usage")
        n_in, n_out = _count(_get(usage, "prompt_tokens")), _count(_get(usage, "completion_tokens"))
        model = _get(response, "model")
        model = model if isinstance(model, str) and model else None
        return cls(
            text=content if isinstance(content, str) else "",
            model_id=model,
            input_tokens=n_in,
            output_tokens=n_out,
            cost=table.cost(model, n_in, n_out),
            logprobs=_get(first, "logprobs"),
            response=response,
        )


def _get(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]`` (provider objects and their dict forms), else None."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class CascadeDecision:
    """Everything about how one query was answered. Flat, so it logs as one row."""

    request_id: str
    timestamp: datetime
    """UTC time the call started."""
    cheap_tier: str
    capable_tier: str
    answered_by: str | None
    """The tier whose answer was returned; None when the capable tier failed (see ``error``)."""
    escalated: bool
    escalation_reason: str | None
    """One of :data:`ESCALATION_REASONS`, None when the cheap answer was accepted."""
    escalation_detail: str | None
    """Human-readable detail (the exception, the invalid value, the rule)."""
    hard_rule: str | None
    """The hard rule hit: ``router_tier:capable``, ``category:fraud``, ``pattern:...``, ``predicate:name``."""
    fallback: bool
    """True when escalation came from a failure (:data:`FALLBACK_REASONS`)."""
    fallback_reason: str | None
    category: str | None
    route_tier: str | None = None
    route_probabilities: dict[str, float] | None = None
    route_confidence: float | None = None
    route_tail_score: float | None = None
    route_fallback: bool | None = None
    route_guarded: bool | None = None
    """The router's fp32 precision guard made the routing decision (int8 margin within int8 error)."""
    route_content_discarded: bool | None = None
    """The router saw only part of the query (cut before tokenization) or no known word in it."""
    confidence_raw: float | None = None
    confidence_calibrated: float | None = None
    threshold: float | None = None
    shadowed: bool = False
    shadow_inclusion_prob: float | None = None
    """The shadow-sampling probability ``pi`` of accepted queries (None for escalated ones)."""
    review_sampled: bool = False
    review_inclusion_prob: float | None = None
    """Human-review sampling probability ``pi`` for this query's answering tier."""
    cheap_model_id: str | None = None
    capable_model_id: str | None = None
    cheap_input_tokens: int | None = None
    cheap_output_tokens: int | None = None
    capable_input_tokens: int | None = None
    capable_output_tokens: int | None = None
    cheap_cost: float | None = None
    capable_cost: float | None = None
    cost: float | None = None
    """Cheap + capable cost on the user's path (shadow cost excluded; it is in the shadow outcome)."""
    latency_router_s: float | None = None
    latency_rules_s: float | None = None
    latency_cheap_s: float | None = None
    latency_confidence_s: float | None = None
    latency_capable_s: float | None = None
    latency_total_s: float = 0.0
    error: str | None = None
    """The capable tier's failure (then ``answered_by`` is None and :class:`CascadeError` is raised)."""
    route_region: int | None = None
    """The router's region of the training distribution for the query (:attr:`Decision.region`);
    None when the router has no regions or did not embed the query. Absent from older logs."""

    def to_record(self) -> dict[str, Any]:
        """A flat dict: router probabilities as a JSON string, everything else scalar."""
        rec = asdict(self)
        probs = rec.pop("route_probabilities")
        rec["route_probabilities"] = None if probs is None else json.dumps(probs, sort_keys=True)
        return rec

    def outcome_key(self) -> dict[str, Any]:
        """Fields that must not depend on timing or ids: for comparing runs (sync vs async)."""
        skip = {"request_id", "timestamp"}
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in skip and "latency" not in f.name
        }


class CascadeResult(tuple[A, CascadeDecision], Generic[A]):
    """The answer to return to the user and its decision: ``answer, decision = cascade(q)``.

    A ``(answer, decision)`` pair, generic in the answer type: for a ``Cascade[A]`` (whose tiers
    return ``A``), ``answer`` is typed ``A`` and ``decision`` :class:`CascadeDecision`, both when
    unpacked and as attributes. ``shadow`` (not part of the pair, nor of equality) is the pending
    shadow call (a future or task resolving to the shadow outcome dict), if any.
    """

    shadow: Future[Any] | asyncio.Task[Any] | None

    def __new__(
        cls,
        answer: A,
        decision: CascadeDecision,
        shadow: Future[Any] | asyncio.Task[Any] | None = None,
    ) -> CascadeResult[A]:
        pair = super().__new__(cls, (answer, decision))
        object.__setattr__(pair, "shadow", shadow)
        return pair

    @property
    def answer(self) -> A:
        """The answer returned to the user."""
        return self[0]

    @property
    def decision(self) -> CascadeDecision:
        """How it was answered."""
        return self[1]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"CascadeResult is immutable (cannot set {name!r})")

    def __getnewargs__(self) -> tuple[A, CascadeDecision]:
        # Pickles as the pair: a pending shadow call cannot cross processes.
        return (self[0], self[1])

    def __repr__(self) -> str:
        return f"CascadeResult(answer={self[0]!r}, decision={self[1]!r})"


@runtime_checkable
class DecisionSink(Protocol):
    """Where a :class:`~tierscope.routing.Cascade` sends its events: a
    :class:`~tierscope.log.DecisionLog`, or anything with these two methods (a test double, a
    forwarder to another store). Defined here so that routing never imports the log layer."""

    def log_decision(self, decision: CascadeDecision) -> None:
        """Record one decision."""

    def log_outcome(self, request_id: str, kind: str, **fields: Any) -> None:
        """Record one outcome (here: a shadow verdict) of an earlier decision."""
