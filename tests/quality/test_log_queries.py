"""The README's π-weighted DuckDB and polars queries over a decision log's files match audit()."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tierscope.exceptions import TierscopeFileNotFoundError
from tierscope.log.decision_log import DecisionLog
from tierscope.quality.audit import audit
from tierscope.quality.queries import PER_TIER_QUALITY_SQL, per_tier_quality_duckdb, per_tier_quality_polars

from tests.factories import synthetic_log

duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")

README = Path(__file__).resolve().parents[2] / "README.md"


def _write_log(path: Path) -> None:
    """A real log: several segments over 6 days, reviews with π (some requests reviewed twice,
    some unscored), thumbs feedback, an orphan review and decisions with only a ``route_tier``."""
    d, o, _ = synthetic_log(days=6, per_day=800, seed=11, budget=120)
    rng = np.random.default_rng(3)
    reviews = o[o["kind"] == "review"].reset_index(drop=True)
    with DecisionLog(path, fsync=False, flush_every=700) as log:
        for i, rec in enumerate(d.to_dict("records")):
            if i % 97 == 0:  # a decision no tier answered: its tier is the routed one
                rec["route_tier"] = rec.pop("answered_by")
            log.log_decision(rec)
        for i, rec in enumerate(reviews.to_dict("records")):
            rid, pi, detail = rec["request_id"], rec["inclusion_prob"], json.loads(rec["detail"])
            log.log_outcome(rid, "review", score=rec["score"], inclusion_prob=pi, detail=detail)
            if i % 13 == 0:  # a second reviewer, same draw (same π), another score
                log.log_outcome(rec["request_id"], "review", score=float(rng.random() < 0.5),
                                inclusion_prob=rec["inclusion_prob"], detail=detail)  # fmt: skip
            if i % 29 == 0:  # a review logged without a score: left out by both
                log.log_outcome(rec["request_id"], "review", inclusion_prob=rec["inclusion_prob"])
        log.log_outcome("no-such-request", "review", score=0.0, inclusion_prob=0.01)
        log.log_feedback(str(d["request_id"].iloc[0]), False)


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("querylog") / "log"
    _write_log(path)
    return path


def _flatten(src: Path, dst: Path) -> None:
    """The same log in the flat layout of logs written before day partitions (``<kind>/<segment>``,
    what ``tierscope log migrate`` converts): every partition's segments side by side."""
    for kind in ("decisions", "outcomes"):
        (dst / kind).mkdir(parents=True)
        for seg in sorted((src / kind).glob(f"date=*/{kind}-*.parquet")):
            assert not (dst / kind / seg.name).exists(), seg.name  # segment names are unique per log
            shutil.copy(seg, dst / kind / seg.name)


def _expected(log: Path) -> pd.Series:
    q = audit(log).quality.set_index("tier")
    tiers = [t for t in q.index if not str(t).startswith(("blended", "all traffic"))]
    return q.loc[tiers, "mean"].astype(float).sort_index()


def test_duckdb_and_polars_match_audit_to_1e12(log_dir: Path) -> None:
    expected = _expected(log_dir)
    assert len(expected) >= 2
    got_duck = per_tier_quality_duckdb(log_dir).set_index("tier")["quality"].sort_index()
    got_pl = per_tier_quality_polars(log_dir).to_pandas().set_index("tier")["quality"].sort_index()
    assert list(got_duck.index) == list(expected.index) == list(got_pl.index)
    np.testing.assert_allclose(got_duck.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_pl.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    reviews = audit(log_dir).quality.set_index("tier").loc[expected.index, "reviews"].to_numpy()
    assert (
        per_tier_quality_duckdb(log_dir).set_index("tier").loc[expected.index, "reviews"] == reviews
    ).all()


def test_the_unweighted_average_is_biased(log_dir: Path) -> None:
    """The old README query (plain avg(score)) is off by far more than the tolerance: the test can fail."""
    plain = (
        duckdb.sql(
            f"SELECT answered_by AS tier, avg(score) AS q FROM '{log_dir}/outcomes/**/*.parquet' o "
            f"JOIN '{log_dir}/decisions/**/*.parquet' d USING (request_id) "
            "WHERE o.kind = 'review' AND answered_by IS NOT NULL GROUP BY 1"
        )
        .df()
        .set_index("tier")["q"]
        .sort_index()
    )
    expected = _expected(log_dir).loc[plain.index]
    assert np.max(np.abs(plain.to_numpy() - expected.to_numpy())) > 1e-3


def test_flat_partitioned_and_mixed_layouts_give_the_same_numbers(log_dir: Path, tmp_path: Path) -> None:
    assert list(log_dir.glob("decisions/date=*/decisions-*.parquet"))  # the writer partitions by day
    expected = per_tier_quality_duckdb(log_dir).set_index("tier")["quality"]
    flat = tmp_path / "flat"
    _flatten(log_dir, flat)
    assert list(flat.glob("decisions/decisions-*.parquet")) and not list(flat.glob("*/date=*"))
    # a mixed directory (flat segments beside partitions, as before `log migrate`) too
    mixed = tmp_path / "mixed"
    shutil.copytree(log_dir, mixed)
    for kind in ("decisions", "outcomes"):
        first = sorted((mixed / kind).glob("date=*"))[0]
        for seg in first.iterdir():
            seg.rename(mixed / kind / seg.name)
        first.rmdir()
    for layout in (flat, mixed):
        for got in (
            per_tier_quality_duckdb(layout).set_index("tier")["quality"],
            per_tier_quality_polars(layout).to_pandas().set_index("tier")["quality"],
        ):
            np.testing.assert_allclose(
                got.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12
            )
    # and audit() reads the flat layout to the same estimates
    np.testing.assert_allclose(_expected(flat).to_numpy(), _expected(log_dir).to_numpy(), rtol=0, atol=1e-12)


def test_temporary_and_foreign_files_are_not_read(log_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "log"
    shutil.copytree(log_dir, copy)
    seg = sorted((copy / "outcomes").glob("date=*/outcomes-*.parquet"))[0]
    shutil.copy(seg, seg.parent / f".{seg.name}.0a1b.tmp")
    shutil.copy(seg, seg.parent / "export.parquet")
    shutil.copy(seg, copy / "outcomes" / "export.parquet")
    got = per_tier_quality_duckdb(copy)
    pd.testing.assert_frame_equal(got, per_tier_quality_duckdb(log_dir))


def test_readme_shows_the_tested_queries() -> None:
    text = README.read_text(encoding="utf-8")
    sql = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    assert PER_TIER_QUALITY_SQL in sql, "README's DuckDB block must be PER_TIER_QUALITY_SQL verbatim"
    source = Path(per_tier_quality_polars.__code__.co_filename).read_text(encoding="utf-8")
    shown = source.split("# --- the polars query (the README shows this part)\n", 1)[1].split("\n\n")[0]
    py = re.findall(r"```py\n(.*?)```", text, flags=re.S)
    body = "\n".join(line[4:] for line in shown.splitlines())
    assert any(body.strip() in block for block in py), "README's polars block must be the tested query"
    assert "avg(score) FROM" not in text  # the old, unweighted example


def test_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TierscopeFileNotFoundError, match="`log`"):
        per_tier_quality_duckdb(tmp_path / "nope")
    with pytest.raises(TierscopeFileNotFoundError, match="`log`"):
        per_tier_quality_polars(tmp_path / "nope")
