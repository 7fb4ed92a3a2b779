"""Batch scoring on Ray Data (``pip install 'tierscope[ray]'``); public as :mod:`tierscope.ray`.

:func:`route_dataset` runs ``ds.map_batches(RouterActor, concurrency=num_actors,
num_cpus=cpus_per_actor, batch_format="pyarrow")``: an actor pool with one
:class:`~tierscope.routing.router.Router` per actor, loaded from its directory (a path or an
object ref of the path; never pickled model state), its ONNX Runtime sessions × threads sized to
the actor's CPUs. The result has the columns ``tierscope route`` writes: the id column, ``row``,
the kept columns, the decision columns. The router is batch-invariant, so the probabilities are
bit-for-bit those of the single-process CLI whatever the batching.

:func:`read_input` reads a file/directory/glob with the CLI's own reader into a Ray dataset with
the CLI's ``row`` numbers. :func:`aggregate_dataset` builds per-worker
:class:`~tierscope.stats.Aggregate` partials (one per block) and merges them into the same
per-tier estimates as a single-process :func:`tierscope.stats.estimate`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .. import _validate as v
from .._optional import require
from ..exceptions import InvalidInputError

__all__ = ["RouterActor", "aggregate_dataset", "read_input", "route_dataset"]


def _ray() -> Any:
    return require("ray", purpose="tierscope.ray")


class RouterActor:
    """A Ray Data callable class: one router per actor, loaded once from ``router_dir``.

    ``router_dir`` is a path (``str``/``PathLike``) or a Ray object ref of one. ``sessions ×
    intra_threads`` default to ``num_cpus`` single-threaded sessions (the actor's CPU share).
    """

    def __init__(
        self,
        router_dir: Any,
        *,
        text_col: str = "text",
        id_col: str | None = None,
        keep_cols: Sequence[str] = (),
        num_cpus: int = 1,
    ) -> None:
        from ..routing.router import Router

        if not isinstance(router_dir, (str, os.PathLike)):
            router_dir = _ray().get(router_dir)  # an ObjectRef of the path
        self.router = Router.load(router_dir, sessions=max(1, int(num_cpus)), intra_threads=1)
        self.text_col, self.id_col, self.keep_cols = text_col, id_col, list(keep_cols)

    def __call__(self, batch: Any) -> Any:
        """Route one ``pyarrow.Table`` batch; returns the CLI's columns for its rows."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from .job import decision_table

        if self.text_col not in batch.column_names:
            raise InvalidInputError(f"no column {self.text_col!r} in the dataset ({batch.column_names})")
        texts = pc.fill_null(batch.column(self.text_col).cast(pa.string()), "").to_pylist()
        routed = self.router.route_batch(texts).to_arrow()
        out = decision_table(
            batch, routed, start=0, text_col=self.text_col, id_col=self.id_col, keep_cols=self.keep_cols
        )
        rows = batch.column("row") if "row" in batch.column_names else pa.nulls(batch.num_rows, pa.int64())
        return out.set_column(out.column_names.index("row"), "row", rows.cast(pa.int64()))


def route_dataset(
    ds: Any,
    router_dir: Any,
    *,
    text_col: str = "text",
    id_col: str | None = None,
    keep_cols: Sequence[str] = (),
    num_actors: int = 2,
    cpus_per_actor: int = 1,
    batch_size: int = 4096,
) -> Any:
    """Route a Ray dataset on ``num_actors`` actors of ``cpus_per_actor`` CPUs each (lazy: the
    result is a dataset; write it with ``.write_parquet(...)`` or materialize it).

    ``row`` is taken from the dataset's ``row`` column (what :func:`read_input` adds), else null:
    rows of a distributed dataset have no global position of their own.
    """
    ray = _ray()
    v.text("text_col", text_col, allow_empty=False)
    v.optional(v.text, "id_col", id_col, allow_empty=False)
    keep = v.string_list("keep_cols", list(keep_cols))
    actors = v.integer("num_actors", num_actors, minimum=1)
    cpus = v.integer("cpus_per_actor", cpus_per_actor, minimum=1)
    size = v.integer("batch_size", batch_size, minimum=1)
    if isinstance(router_dir, (str, os.PathLike)):
        v.existing_dir("router_dir", router_dir, what="router directory")
        router_dir = os.fspath(router_dir)
    elif not isinstance(router_dir, ray.ObjectRef):
        raise v.fail("router_dir", "a router directory path or a Ray object ref of one", router_dir)
    names = ds.schema().names
    for col in [text_col, *([id_col] if id_col else []), *keep]:
        if col not in names:
            raise InvalidInputError(f"invalid `ds`: no column {col!r} in the dataset (columns: {names})")
    return ds.map_batches(
        RouterActor,
        fn_constructor_args=(router_dir,),
        fn_constructor_kwargs={"text_col": text_col, "id_col": id_col, "keep_cols": keep, "num_cpus": cpus},
        concurrency=actors,
        num_cpus=cpus,
        batch_size=size,
        batch_format="pyarrow",
    )


def read_input(
    source: str | os.PathLike[str],
    *,
    text_col: str = "text",
    id_col: str | None = None,
    keep_cols: Sequence[str] = (),
    fmt: str | None = None,
    delimiter: str | None = None,
    rows_per_block: int | None = None,
) -> Any:
    """A Ray dataset of ``source`` read with the CLI's reader (same formats, errors and ``row``
    numbers as ``tierscope route``), in blocks of ``rows_per_block`` rows (the unit the actors
    share out; default: an eighth of the rows, at most 4,096, so a small input still feeds every
    actor). Reading happens on the driver, which is not the bottleneck: routing is about
    1,000 rows/s per 2 cores, reading millions."""
    import pyarrow as pa

    from .inputs import open_source

    ray = _ray()
    block = v.optional(v.integer, "rows_per_block", rows_per_block, minimum=1)
    src = open_source(
        source, text_col=text_col, id_col=id_col, keep_cols=keep_cols, fmt=fmt, delimiter=delimiter
    )
    tables, start = [], 0
    for batch in src.batches():
        n = batch.table.num_rows
        tables.append(batch.table.append_column("row", pa.array(range(start, start + n), type=pa.int64())))
        start += n
    if not tables:
        raise InvalidInputError(f"{source}: no rows to route")
    whole = pa.concat_tables(tables, promote_options="permissive")
    size = block if block is not None else max(1, min(4096, -(-start // 8)))
    return ray.data.from_arrow([whole.slice(i, size) for i in range(0, start, size)])


def _partial(batch: Any, y_col: str, pi_col: str, stratum_col: str, domain_col: str) -> Any:
    """One block's :class:`~tierscope.stats.Aggregate` as JSON (population counts + its sample)."""
    import numpy as np
    import pyarrow as pa

    from ..stats import Aggregate

    strata = batch.column(stratum_col).to_numpy(zero_copy_only=False).astype(np.int64)
    domains = batch.column(domain_col).to_numpy(zero_copy_only=False).astype(np.int64)
    y = batch.column(y_col).to_numpy(zero_copy_only=False).astype(np.float64)
    pi = batch.column(pi_col).to_numpy(zero_copy_only=False).astype(np.float64)
    agg = Aggregate()
    agg.add_population(strata, domains)
    sampled = ~np.isnan(y)
    if sampled.any():
        agg.add_sample(y[sampled], pi[sampled], strata[sampled], domains[sampled])
    return pa.table({"aggregate": [agg.to_json()]})


def aggregate_dataset(
    ds: Any,
    *,
    y_col: str,
    pi_col: str,
    stratum_col: str = "tier_index",
    domain_col: str = "tier_index",
) -> Any:
    """Merge per-block :class:`~tierscope.stats.Aggregate` partials of a routed dataset.

    Every row counts in the population of its (stratum, domain) cell; rows whose ``y_col`` is not
    null (NaN) are the sampled units, with inclusion probability ``pi_col``. The merged aggregate's
    ``estimate_domains(...)`` equals the single-process estimate over all rows.
    """
    from ..stats import Aggregate

    _ray()
    for name, col in (
        ("y_col", y_col),
        ("pi_col", pi_col),
        ("stratum_col", stratum_col),
        ("domain_col", domain_col),
    ):
        v.text(name, col, allow_empty=False)
    partials = ds.map_batches(
        _partial,
        fn_kwargs={"y_col": y_col, "pi_col": pi_col, "stratum_col": stratum_col, "domain_col": domain_col},
        batch_format="pyarrow",
        num_cpus=0.25,  # bookkeeping: must not wait for a CPU held by a routing actor
    )
    merged = Aggregate()
    for row in partials.iter_rows():
        merged = merged.merge(Aggregate.from_json(row["aggregate"]))
    return merged
