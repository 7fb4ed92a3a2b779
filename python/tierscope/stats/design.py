"""Sampling designs: stratified SRSWOR and Poisson sampling (mirrors ``src/stats/design.rs``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy.typing as npt

from .. import _core, _validate
from ._convert import FloatArray, IntArray, _count, _encode, _f64, _positive, _seed

__all__ = ["Sample", "poisson_inclusion_probabilities", "poisson_sample", "stratified_srswor"]


@dataclass(frozen=True)
class Sample:
    """Selected unit indices (ascending) and their inclusion probabilities."""

    indices: IntArray
    pi: FloatArray


def stratified_srswor(strata: npt.ArrayLike, sizes: Mapping[Hashable, int], seed: int = 0) -> Sample:
    """Stratified simple random sampling without replacement.

    ``strata`` labels every frame unit; ``sizes`` maps stratum label -> sample size (missing
    strata get 0). Each selected unit carries π = n_h / N_h. Deterministic given ``seed``.
    """
    codes, labels = _encode("strata", strata)
    if not isinstance(sizes, Mapping):
        raise _validate.fail("sizes", "a mapping of stratum label -> sample size", sizes)
    known = set(labels)
    unknown = [k for k in sizes if k not in known]
    if unknown:
        raise _validate.fail("sizes", f"stratum labels present in `strata`, got {unknown[:3]}")
    per_code = [_count(f"sizes[{lab!r}]", sizes.get(lab, 0)) for lab in labels]
    sample = _core.stats_stratified_srswor(codes, per_code, _seed(seed))
    return Sample(sample.indices, sample.pi)


def poisson_inclusion_probabilities(scores: npt.ArrayLike, expected_size: float) -> FloatArray:
    """π ∝ score, capped at 1 with iterative redistribution, Σπ = ``expected_size``."""
    s = _f64("scores", scores)
    return _core.stats_poisson_inclusion(s, _positive("expected_size", expected_size))


def poisson_sample(pi: npt.ArrayLike, seed: int = 0) -> Sample:
    """Poisson sampling: unit i is selected independently with probability ``pi[i]``."""
    sample = _core.stats_poisson_sample(_f64("pi", pi), _seed(seed))
    return Sample(sample.indices, sample.pi)
