"""Checking, normalising and redacting the fields of one log event, at ``log_*`` time.

Every field is checked when it is logged, so a bad value raises
:class:`~tierscope.exceptions.InvalidInputError` naming the field in the caller's frame and never
reaches the buffer (where it used to fail every later flush). The rules, per column type:

- text: a ``str`` that encodes as UTF-8 (a lone surrogate such as ``"\\ud800"`` is refused, not
  escaped: the caller's value is wrong, and silently rewriting it would make a request id that
  no longer matches its outcomes);
- booleans: ``True``/``False`` only (``"no"``, ``"False"``, ``0`` are refused);
- integers: Python or numpy integers, never bools or floats; token counts are ``>= 0``;
- reals: Python or numpy reals (``np.float32`` included), finite, within the field's range
  (confidences, thresholds and scores in [0, 1], an outcome's inclusion probability in (0, 1],
  costs, latencies and ``days_after`` ``>= 0``);
- timestamps: a ``datetime`` (naive means UTC), an ISO 8601 string or a finite POSIX time;
- JSON (``route_probabilities``, outcome ``detail``, unknown extras): JSON-serialisable values
  with string keys, no NaN/inf, text that encodes (a failure names the key).

Redaction (:class:`Redactor`) then rewrites the free-text fields (:data:`REDACTABLE`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import numbers
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from .._validate import choice, fail, integer, is_bool, real, text

__all__ = ["REDACTABLE", "REDACT_MODES", "RedactMode", "Redactor", "row"]

RedactMode = Literal["keep", "truncate", "hash", "omit"]
REDACT_MODES: tuple[RedactMode, ...] = ("keep", "truncate", "hash", "omit")
REDACTABLE = ("escalation_detail", "fallback_reason", "error", "detail", "extra")
"""The free-text fields: exception text and details (decisions), outcome ``detail``, and the
JSON of unknown extra fields (both kinds)."""

HASH_PREFIX = "hmac-sha256:"

CONTEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "string"),
    ("span_id", "string"),
    ("session_id", "string"),
    ("session_turn", "int64"),
    ("session_sticky", "bool"),
)
"""Optional decision columns (``(name, arrow type)``) that join a decision to its context: the
OpenTelemetry trace and span ids (32 and 16 hex digits) of the call that made it, and the
conversation (session id, 1-based turn, whether the session policy forced the tier). Null in logs
written before they existed and in decisions made outside a traced or session-keyed call."""

_UNIT = {"minimum": 0.0, "maximum": 1.0}
_NONNEG = {"minimum": 0.0}
_REAL_RANGES: dict[str, dict[str, Any]] = {
    "route_confidence": _UNIT,
    "confidence_raw": _UNIT,
    "confidence_calibrated": _UNIT,
    "threshold": _UNIT,
    # A decision's π may be 0 (a rate of 0 is recorded for every accepted query).
    "shadow_inclusion_prob": _UNIT,
    "review_inclusion_prob": _UNIT,
    "score": _UNIT,
    "cheap_score": _UNIT,
    "capable_score": _UNIT,
    # An outcome was sampled, so its π is in (0, 1]: 1/π weights it.
    "inclusion_prob": {"minimum": 0.0, "maximum": 1.0, "min_open": True},
    "days_after": _NONNEG,
}


def _real_range(name: str) -> dict[str, Any]:
    if name in _REAL_RANGES:
        return _REAL_RANGES[name]
    if name.endswith("cost") or name.startswith("latency_"):
        return _NONNEG
    return {}


# -- one checker per column, built once per schema ---------------------------------------------
Checker = Callable[[str, Any], Any]


def escape(value: str) -> str:
    """``value`` with lone surrogates written as ``\\udXXX`` escapes (for messages and labels)."""
    return value if value.isascii() else value.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(label: str, value: Any) -> str:
    if type(value) is str and value.isascii():  # the common case, without encoding
        return value
    return text(label, value)


def check_bool(label: str, value: Any) -> bool:
    """``True``/``False`` (numpy booleans too); ``"no"``, ``0`` and ``None`` are refused."""
    if value is True or value is False:
        return value
    if is_bool(value):
        return bool(value)
    raise fail(label, "True or False", value)


def _int_checker(minimum: int | None) -> Checker:
    def check(label: str, value: Any) -> int:
        if type(value) is int and (-(2**63) if minimum is None else minimum) <= value <= 2**63 - 1:
            return value
        return integer(label, value, minimum=minimum)

    return check


def _real_checker(options: Mapping[str, Any]) -> Checker:
    lo, hi = options.get("minimum", -math.inf), options.get("maximum", math.inf)
    lo_open = options.get("min_open", False)

    def check(label: str, value: Any) -> float:
        # Fast path for a plain finite float in range (``v - v`` is NaN for NaN and ±inf).
        fast = type(value) is float and lo <= value <= hi and value - value == 0.0
        if fast and not (lo_open and value == lo):
            return float(value)
        return real(label, value, **options)

    return check


def _timestamp(label: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    expected = "a datetime, an ISO 8601 string or a POSIX time"
    if isinstance(value, str):
        try:
            return _timestamp(label, datetime.fromisoformat(text(label, value)))
        except ValueError as err:
            raise fail(label, expected, value, cause=err) from None
    if isinstance(value, numbers.Real) and not is_bool(value):
        seconds = real(label, value)
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError) as err:
            raise fail(label, "a POSIX time within the years 1-9999", value, cause=err) from None
    raise fail(label, expected, value)


def _json_default(value: Any) -> Any:
    """numpy scalars and datetimes are JSON too; anything else is refused (never ``str()``'d)."""
    if is_bool(value):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _str_keys(label: str, value: Any, depth: int = 0) -> None:
    """Every mapping key inside ``value`` is a str (``json`` would silently turn ``1`` into ``"1"``)."""
    if depth > 64:
        raise fail(label, "JSON nested at most 64 levels deep")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise fail(f"{label} key", "str keys", key)
            _str_keys(label, item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _str_keys(label, item, depth + 1)


def json_value(label: str, value: Any) -> Any:
    """``value`` checked as JSON: string keys, finite numbers, text that encodes. Returned as is."""
    if isinstance(value, (Mapping, list, tuple)):
        _str_keys(label, value)
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False, default=_json_default)
        encoded.encode("utf-8")
    except (TypeError, ValueError) as err:  # UnicodeEncodeError is a ValueError
        what = "a JSON-serialisable value (str, finite number, bool, None, list, dict with str keys)"
        raise fail(label, f"{what} whose text encodes as UTF-8 ({err})", value, cause=err) from None
    return value


def _json_checker(label: str, value: Any) -> Any:
    if isinstance(value, str):
        return _text(label, value)
    if isinstance(value, Mapping):
        return json_value(label, dict(value))
    return json_value(label, value)


def _probabilities(label: str, value: Any) -> str:
    """Router probabilities: a mapping tier -> P in [0, 1] (or its JSON), stored as JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(_text(label, value))
        except ValueError as err:
            raise fail(label, "a JSON object of tier -> probability", cause=err) from None
    if not isinstance(value, Mapping):
        raise fail(label, "a mapping of tier -> probability", value)
    out: dict[str, float] = {}
    for key, p in value.items():
        out[_text(f"{label} key", key)] = real(f"{label}[{key!r}]", p, minimum=0.0, maximum=1.0)
    return json.dumps(out, sort_keys=True)


def checkers(columns: tuple[tuple[str, str], ...], prefix: str) -> tuple[tuple[str, str, Checker], ...]:
    """``(field, label, checker)`` per column, from ``(field, arrow type name)`` pairs."""
    out = []
    for name, typ in columns:
        label = f"{prefix}{name}"
        check: Checker
        if name == "route_probabilities":
            check = _probabilities
        elif name == "detail":
            check = _json_checker
        elif typ.startswith("timestamp"):
            check = _timestamp
        elif typ == "bool":
            check = check_bool
        elif typ.startswith("int"):
            # Token counts and region ids are never negative.
            check = _int_checker(0 if name.endswith("tokens") or name == "route_region" else None)
        elif typ in ("double", "float"):
            check = _real_checker(_real_range(name))
        else:
            check = _text
        out.append((name, label, check))
    return tuple(out)


def missing(value: Any) -> bool:
    """NaN, ``pd.NA`` or ``pd.NaT``: how a pandas record spells a missing value."""
    t = type(value)
    if t is float:
        return bool(value != value)
    if t is str or t is int or t is bool or value is None:
        return value is None
    if t.__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and not is_bool(value):
        return math.isnan(value)
    return False


def row(
    record: Mapping[str, Any],
    specs: tuple[tuple[str, str, Checker], ...],
    names: frozenset[str],
    prefix: str,
    redactor: Redactor,
    nan_is_missing: bool = False,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The checked, redacted columns of ``record`` and its checked extras (None when none).

    ``nan_is_missing``: a top-level NaN / ``pd.NA`` / ``pd.NaT`` is a missing value (null), as
    in a pandas record; otherwise NaN is refused like any non-finite number."""
    out: dict[str, Any] = {}
    get = record.get
    for name, label, check in specs:
        value = get(name)
        if value is None or (nan_is_missing and missing(value)):
            out[name] = None
        else:
            out[name] = check(label, value)
    extra: dict[str, Any] | None = None
    for key, value in record.items():
        if key in names:
            continue
        if not isinstance(key, str):
            raise fail(f"{prefix}extra key", "str keys", key)
        label = f"{prefix}{escape(key)}"  # the message itself must encode
        _text(label, key)
        if nan_is_missing and missing(value):
            value = None
        json_value(label, value)
        if extra is None:
            extra = {}
        extra[key] = value
    return out, extra


# -- redaction ---------------------------------------------------------------------------------
class Redactor:
    """Rewrites the free-text fields of an event: keep, truncate, hash (keyed) or omit.

    ``modes``: field -> mode for the fields of :data:`REDACTABLE` (a missing field is
    ``default``). Text is cut to ``max_chars`` characters by ``"truncate"``. ``"hash"`` stores
    ``hmac-sha256:<32 hex digits>``, keyed with ``key`` (32 random bytes when None).
    For the JSON fields (``detail`` given as a mapping, ``extra``) the mode applies to each
    top-level string value (a nested list or dict counts as its JSON text); numbers, booleans and
    nulls are kept, and ``"omit"`` nulls the string values.
    """

    def __init__(
        self, modes: Mapping[str, RedactMode], default: RedactMode, max_chars: int, key: bytes | None
    ) -> None:
        self.modes = {f: modes.get(f, default) for f in REDACTABLE}
        self.max_chars = max_chars
        self._key = secrets.token_bytes(32) if key is None else bytes(key)
        self.active = any(m != "keep" for m in self.modes.values())

    def hash_text(self, value: str) -> str:
        """The keyed hash of ``value`` (equal values, equal hashes, under one key)."""
        digest = hmac.new(self._key, value.encode("utf-8", "backslashreplace"), hashlib.sha256)
        return HASH_PREFIX + digest.hexdigest()[:32]

    def text(self, mode: RedactMode, value: str) -> str | None:
        if mode == "keep":
            return value
        if mode == "omit":
            return None
        if mode == "hash":
            return self.hash_text(value)
        if len(value) <= self.max_chars:
            return value
        return f"{value[: self.max_chars]}…[{len(value) - self.max_chars} more chars]"

    def _json(self, mode: RedactMode, value: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(v, (list, tuple, dict)):
                encoded = json.dumps(v, sort_keys=True, ensure_ascii=False, default=_json_default)
                if mode == "truncate" and len(encoded) <= self.max_chars:
                    out[k] = v  # short enough: kept as structure
                    continue
                v = encoded
            out[k] = self.text(mode, v) if isinstance(v, str) else v
        return out

    def apply(self, out: dict[str, Any], extra: dict[str, Any] | None) -> None:
        """Redact the free-text columns of ``out`` in place and store ``extra`` as JSON."""
        modes = self.modes
        for name in ("escalation_detail", "fallback_reason", "error", "detail"):
            if name not in out:
                continue
            value = out[name]
            if value is None:
                continue
            mode = modes[name]
            if isinstance(value, str):
                out[name] = self.text(mode, value)
            elif isinstance(value, Mapping):
                value = value if mode == "keep" else self._json(mode, value)
                out[name] = _dumps(value)
            else:
                out[name] = _dumps(value if mode == "keep" else self._json(mode, {"value": value})["value"])
        if extra is not None:
            mode = modes["extra"]
            out["extra"] = _dumps(extra if mode == "keep" else self._json(mode, extra))
        else:
            out["extra"] = None


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, default=_json_default)


def redact_options(redact: Any, max_text_chars: Any, redact_key: Any) -> Redactor:
    """The :class:`Redactor` of ``DecisionLog(redact=..., max_text_chars=..., redact_key=...)``."""
    chars = integer("max_text_chars", max_text_chars, minimum=1, maximum=1_000_000)
    if redact_key is not None and (not isinstance(redact_key, (bytes, bytearray)) or len(redact_key) < 16):
        raise fail("redact_key", "bytes (at least 16 of them) or None", redact_key)
    default: RedactMode = "truncate"
    modes: dict[str, RedactMode] = {}
    if isinstance(redact, str):
        default = choice("redact", redact, REDACT_MODES)
    elif isinstance(redact, Mapping):
        for field, mode in redact.items():
            f = choice("redact key", field, (*REDACTABLE, "*"))
            m = choice(f"redact[{field!r}]", mode, REDACT_MODES)
            if f == "*":
                default = m
            else:
                modes[f] = m
    elif redact is not None:
        raise fail("redact", f"a mode ({', '.join(REDACT_MODES)}), a mapping field -> mode, or None", redact)
    return Redactor(modes, default, chars, None if redact_key is None else bytes(redact_key))
