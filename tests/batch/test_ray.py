"""A real local Ray cluster (2 CPUs) scoring a few thousand rows: the same ids and the same
probabilities, bit for bit, as the single-process CLI and the Python API; per-worker
``stats.Aggregate`` partials merged into the single-process per-tier estimates; Router pickling."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from tierscope import Router
from tierscope.cli import main

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402  (CI installs ray[data] from the lock: a missing one must fail loudly)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    # Ray's own deprecation notices about its internals (not tierscope's calls) are not errors here.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:ray.*"),
]

ROWS = 2000


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def log_csv(queries: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few thousand BANKING77 test queries with ids, as a CSV (with repeats, as in a log)."""
    rng = np.random.default_rng(7)
    texts = [queries[i] for i in rng.integers(0, len(queries), size=ROWS)]
    path = tmp_path_factory.mktemp("ray") / "log.csv"
    ids = [f"id-{i:05d}" for i in rng.permutation(ROWS)]
    pacsv.write_csv(pa.table({"qid": ids, "text": texts, "user": [f"u{i % 7}" for i in range(ROWS)]}), path)
    return path


def _bits(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy().view(np.uint32)


def test_ray_equals_the_cli_and_the_python_api(
    cluster: None, default_dir: Path, router: Router, log_csv: Path, tmp_path: Path
) -> None:
    from tierscope.ray import read_input, route_dataset

    out = tmp_path / "cli"
    assert (
        main(
            [
                "route",
                str(default_dir),
                str(log_csv),
                str(out),
                "--id-col",
                "qid",
                "--keep-cols",
                "user",
                "--rows-per-part",
                "1000",
                "--quiet",
            ]
        )
        == 0
    )
    cli = pq.read_table(out).sort_by("row")
    ds = read_input(log_csv, id_col="qid", keep_cols=["user"])
    ref = ray.put(str(default_dir))  # the router travels as an object ref of its path
    routed = route_dataset(ds, ref, id_col="qid", keep_cols=["user"], num_actors=2, batch_size=256)
    got = pa.concat_tables(ray.get(routed.to_arrow_refs())).sort_by("row")
    assert got.column_names == cli.column_names
    assert got.column("qid").to_pylist() == cli.column("qid").to_pylist()
    assert got.column("row").to_pylist() == list(range(ROWS))
    for name in ("p_cheap", "p_capable", "confidence", "tail_score"):
        assert np.array_equal(_bits(got, name), _bits(cli, name)), name
    for name in ("tier", "fallback", "reason", "tokens", "user"):
        assert got.column(name).to_pylist() == cli.column(name).to_pylist(), name
    api = router.route_batch(pacsv.read_csv(log_csv).column("text").to_pylist())
    assert np.array_equal(_bits(got, "p_cheap"), api.probabilities[:, 0].view(np.uint32))


def test_distributed_aggregate_equals_the_single_process_estimate(
    cluster: None, default_dir: Path, router: Router, log_csv: Path
) -> None:
    """Per-tier accuracy of the routed tier (labels from BANKING77's tier map), on a Poisson
    sample: merged per-block partials give the single-process `stats.estimate` figures."""
    from tierscope.data import banking77, tier_map
    from tierscope.ray import aggregate_dataset, read_input, route_dataset
    from tierscope.stats import estimate

    texts, intents = banking77("test")
    mapping = tier_map()
    label = {t: router.tiers.index(mapping[i]) for t, i in zip(texts, intents, strict=True)}
    table = pacsv.read_csv(log_csv)
    rng = np.random.default_rng(3)
    routed = router.route_batch(table.column("text").to_pylist())
    pi = np.where(routed.tier_index == 0, 0.2, 0.5)
    sampled = rng.random(ROWS) < pi
    correct = np.array([label[t] for t in table.column("text").to_pylist()]) == routed.tier_index
    y = np.where(sampled, correct.astype(float), np.nan)
    ds = read_input(log_csv, id_col="qid", rows_per_block=250)  # 8 blocks: several partials
    # Materialized: the actors (2 CPUs) are released before the partials' tasks need a CPU.
    scored = route_dataset(ds, default_dir, id_col="qid", num_actors=2, batch_size=500).materialize()
    extra = {"y": y, "pi": pi}

    def attach(batch: pa.Table) -> pa.Table:
        rows = batch.column("row").to_numpy()
        return batch.append_column("y", pa.array(extra["y"][rows])).append_column(
            "pi", pa.array(extra["pi"][rows])
        )

    merged = aggregate_dataset(
        scored.map_batches(attach, batch_format="pyarrow", num_cpus=0.25), y_col="y", pi_col="pi"
    )
    tiers = np.array(router.tiers, dtype=object)[routed.tier_index]
    single = estimate(
        y[sampled],
        pi[sampled],
        tiers[sampled],
        tiers[sampled],
        population_sizes={t: int(np.sum(tiers == t)) for t in router.tiers},
        design="poisson",
    )
    for code, name in enumerate(router.tiers):
        dist = merged.estimate_domains(design="poisson", domains=[code])[0]
        one = single.domains[name]
        assert dist.mean == pytest.approx(one.mean, rel=1e-12, abs=1e-12)
        assert dist.se == pytest.approx(one.se, rel=1e-9, abs=1e-12)
        assert dist.n == one.n and dist.population_hat == pytest.approx(one.population_hat, rel=1e-12)
        assert dist.population == np.sum(tiers == name)  # every worker counted its rows
    assert 0.8 < single.domains["cheap"].mean <= 1.0


def test_the_readme_ray_recipe_runs(
    cluster: None, default_dir: Path, log_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### Batch scoring at scale") :]
    code = re.search(r"```py\n(.*?)```", section, flags=re.S)
    assert code is not None
    table = pacsv.read_csv(log_csv).slice(0, 300).rename_columns(["id", "text", "user"])
    pacsv.write_csv(table, tmp_path / "queries.csv")
    monkeypatch.chdir(tmp_path)
    exec(
        compile(code.group(1).replace("models/default-minilm-int8-v1", str(default_dir)), "README", "exec"),
        {},
    )
    out = pq.read_table(tmp_path / "ray-decisions")
    assert sorted(out.column("id").to_pylist()) == sorted(table.column("id").to_pylist())
