"""Token prices: per-million input/output USD prices per model id, and the cost of one call.

The default table is RouterArena's cost table (Apache-2.0, 45 models, list prices recorded around
2025), shipped in ``tierscope/data/pricing/`` with its licence and README. Providers change
prices, so pass your own: ``Prices({"my-model": (0.15, 0.60)})``, a JSON file of the same shape as
the shipped one, or ``Prices.default().with_overrides({...})``.

A model the table does not know costs ``None`` (not 0, not an exception): the decision is logged
without a cost, and the ``tierscope`` logger says so once per model id.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Union

from .._logging import log_once
from .._validate import fail, integer, real, text
from ..exceptions import TierscopeFileNotFoundError

__all__ = ["Prices", "PricesLike"]

_IN, _OUT = "input_token_price_per_million", "output_token_price_per_million"
_DEFAULT: Prices | None = None


def _entry(label: str, value: Any) -> tuple[float, float]:
    if isinstance(value, Mapping):
        if _IN not in value or _OUT not in value:
            raise fail(label, f"a mapping with {_IN!r} and {_OUT!r}", value)
        pair = (value[_IN], value[_OUT])
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise fail(label, "an (input, output) pair of USD prices per million tokens, or a mapping", value)
    return (
        real(f"{label}[input]", pair[0], minimum=0.0),
        real(f"{label}[output]", pair[1], minimum=0.0),
    )


class Prices:
    """USD per million tokens, input and output, per model id.

    ``table``: a mapping model id -> ``(input, output)`` or ``{"input_token_price_per_million":
    ..., "output_token_price_per_million": ...}``. A model id is looked up as given, then without a
    ``provider/`` prefix (``openai/gpt-4o-mini`` finds ``gpt-4o-mini``)."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        if not isinstance(table, Mapping):
            raise fail("prices", "a mapping model id -> (input, output) USD per million tokens", table)
        self._table = {
            text("prices key", k, allow_empty=False): _entry(f"prices[{k!r}]", v) for k, v in table.items()
        }

    @classmethod
    def default(cls) -> Prices:
        """The shipped RouterArena table (``tierscope/data/pricing/routerarena_model_cost.json``),
        read once per process."""
        global _DEFAULT
        if _DEFAULT is None:
            data = resources.files("tierscope.data").joinpath("pricing", "routerarena_model_cost.json")
            _DEFAULT = cls(json.loads(data.read_text(encoding="utf-8")))
        return _DEFAULT

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Prices:
        """A JSON file shaped like the shipped one."""
        p = Path(os.fspath(path))
        if not p.is_file():
            raise TierscopeFileNotFoundError(f"invalid `prices`: no price file at {p}")
        try:
            return cls(json.loads(p.read_text(encoding="utf-8")))
        except ValueError as err:
            raise fail("prices", f"a JSON object ({err})", str(p), cause=err) from None

    @classmethod
    def coerce(cls, prices: PricesLike) -> Prices:
        """``None`` (the default table), a :class:`Prices`, a mapping or a path to a JSON file."""
        if prices is None:
            return cls.default()
        if isinstance(prices, Prices):
            return prices
        if isinstance(prices, (str, os.PathLike)):
            return cls.from_file(prices)
        return cls(prices)

    def with_overrides(self, table: Mapping[str, Any]) -> Prices:
        """This table with ``table``'s entries added or replaced."""
        out = Prices({})
        out._table = {**self._table, **Prices(table)._table}
        return out

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.lookup(model) is not None

    def __len__(self) -> int:
        return len(self._table)

    def lookup(self, model: str) -> tuple[float, float] | None:
        """``(input, output)`` USD per million tokens, or None when unknown."""
        found = self._table.get(model)
        if found is None and "/" in model:
            found = self._table.get(model.rsplit("/", 1)[1])
        return found

    def cost(self, model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """USD cost of one call; None when the model is unknown (logged once) or a count is missing."""
        if model is None or input_tokens is None or output_tokens is None:
            return None
        entry = self.lookup(model)
        if entry is None:
            log_once(
                ("unknown_price", model),
                logging.WARNING,
                "tierscope: no price for model %r; its cost is None",
                model,
            )
            return None
        n_in = integer("input_tokens", input_tokens, minimum=0)
        n_out = integer("output_tokens", output_tokens, minimum=0)
        return (n_in * entry[0] + n_out * entry[1]) / 1e6

    def __repr__(self) -> str:
        return f"Prices({len(self._table)} models)"


PricesLike = Union[Prices, Mapping[str, Any], str, "os.PathLike[str]", None]
"""What a ``prices=`` argument accepts."""
