"""Regions of the training distribution (issue 16, part 4) on the real default router: k-means
centroids fitted on the tail index's training embeddings (``regions.bin``), a region per decision
that leaves every other output unchanged, does not depend on the batch, survives save/load and the
manifest, and means something (purity against BANKING77 intents). Old router directories still
load (no regions: -1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tierscope import Router
from tierscope.data import banking77
from tierscope.exceptions import InvalidInputError, ModelLoadError
from tierscope.models.default_router import REGIONS, add_regions
from tierscope.routing import hub
from tierscope.routing.manifest import file_manifest, verify_manifest
from tierscope.routing.records import Decision

EMPTY = ["", "   ", "\0"]
SAMPLE = 500


@pytest.fixture(scope="module")
def plain_dir(default_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default router without regions (what a v3 directory looks like)."""
    out = tmp_path_factory.mktemp("plain") / "router"
    shutil.copytree(default_dir, out)
    (out / "regions.bin").unlink(missing_ok=True)
    from tierscope.routing.manifest import write_manifest

    write_manifest(out)
    return out


@pytest.fixture(scope="module")
def region_fit(plain_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("regions") / "router"
    shutil.copytree(plain_dir, out)
    return out, add_regions(out, regions=REGIONS, seed=0)


@pytest.fixture(scope="module")
def sample() -> tuple[list[str], list[str]]:
    texts, intents = banking77("test")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(texts), SAMPLE, replace=False)
    return [texts[i] for i in pick], [intents[i] for i in pick]


@pytest.mark.timeout(300)
def test_regions_leave_every_other_output_unchanged(plain_dir: Path, region_fit, sample) -> None:  # type: ignore[no-untyped-def]
    texts = sample[0] + EMPTY
    plain = Router.load(plain_dir, sessions=1).route_batch(texts)
    router = Router.load(region_fit[0], sessions=1)
    assert router.regions == REGIONS
    batch = router.route_batch(texts)
    np.testing.assert_array_equal(batch.tier_index, plain.tier_index)
    np.testing.assert_array_equal(batch.probabilities, plain.probabilities)
    np.testing.assert_array_equal(batch.tail_score, plain.tail_score)
    assert batch.reason == plain.reason
    assert batch.region is not None and batch.region.dtype == np.int32
    assert np.all((batch.region[:SAMPLE] >= 0) & (batch.region[:SAMPLE] < REGIONS))
    assert batch.region[SAMPLE:].tolist() == [-1] * len(EMPTY)
    assert plain.region is not None and set(plain.region.tolist()) == {-1}
    assert batch[0].region == int(batch.region[0])
    assert "region" in batch.columns() and "region" in batch.to_arrow().column_names


def test_region_does_not_depend_on_the_batch(region_fit, sample) -> None:  # type: ignore[no-untyped-def]
    router = Router.load(region_fit[0], sessions=1)
    texts = sample[0][:40]
    together = router.route_batch(texts).region
    alone = [router.route(t).region for t in texts]
    assert together is not None and together.tolist() == alone
    reversed_ = router.route_batch(texts[::-1]).region
    assert reversed_ is not None and reversed_[::-1].tolist() == alone


def test_regions_are_meaningful_against_intents(region_fit, sample) -> None:  # type: ignore[no-untyped-def]
    """Purity (share of queries in their region's majority intent) on held-out BANKING77 test
    queries is far above what a region blind to intents gives (a random relabelling)."""
    router = Router.load(region_fit[0], sessions=1)
    region = router.route_batch(sample[0]).region
    assert region is not None
    intents = np.asarray(sample[1])

    def purity(r: np.ndarray) -> float:
        return sum(np.unique(intents[r == j], return_counts=True)[1].max() for j in np.unique(r)) / len(r)

    rng = np.random.default_rng(1)
    blind = float(np.mean([purity(rng.permutation(region)) for _ in range(20)]))
    assert purity(region) > blind + 0.1, (purity(region), blind)
    # Every region is used by training rows, and the fit converged.
    fit = region_fit[1]
    assert len(np.unique(fit["assignment"])) == REGIONS
    assert fit["iterations"] < 100 and fit["mean_similarity"] > 0.3


def test_regions_file_is_in_the_manifest_and_survives_save(region_fit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = region_fit[0]
    assert "regions.bin" in file_manifest(directory)
    verify_manifest(directory, source="test")
    assert "regions.bin" in hub._PATTERNS
    router = Router.load(directory, sessions=1)
    router.save(tmp_path / "copy")
    again = Router.load(tmp_path / "copy", sessions=1)
    assert again.regions == REGIONS
    assert (tmp_path / "copy" / "regions.bin").read_bytes() == (directory / "regions.bin").read_bytes()
    config = json.loads((tmp_path / "copy" / "router.json").read_text())
    assert "regions.bin" in config["provenance"]["files"]
    # The same training rows and seed give the same centroids (deterministic fit).
    shutil.copytree(directory, tmp_path / "refit")
    add_regions(tmp_path / "refit", regions=REGIONS, seed=0)
    assert (tmp_path / "refit" / "regions.bin").read_bytes() == (directory / "regions.bin").read_bytes()


def test_corrupt_regions_file_and_bad_arguments_are_refused(plain_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(plain_dir, bad)
    (bad / "regions.bin").write_bytes(b"TSREGN01" + b"\0" * 20)
    with pytest.raises(ModelLoadError, match="regions"):
        Router.load(bad)
    with pytest.raises(InvalidInputError, match="`regions`"):
        add_regions(plain_dir, regions=1)
    with pytest.raises(FileNotFoundError):
        add_regions(tmp_path / "missing")


def test_old_decisions_without_a_region_still_load(plain_dir: Path) -> None:
    d = Router.load(plain_dir, sessions=1).route("how do I top up my card?")
    assert d.region == -1
    old = d.to_dict()
    del old["region"]
    assert Decision.from_dict(old).region == -1
