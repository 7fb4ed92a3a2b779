"""Sampling designs: stratified SRSWOR and Poisson sampling (mirrors ``src/stats/design.rs``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy.typing as npt

from .. import _core
from ..exceptions import InvalidInputError
from ._convert import FloatArray, IntArray, _encode, _f64

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
    unknown = [k for k in sizes if k not in set(labels)]
    if unknown:
        raise InvalidInputError(f"invalid `sizes`: stratum labels present in `strata`, got {unknown[:3]}")
    per_code = [int(sizes.get(lab, 0)) for lab in labels]
    if any(s < 0 for s in per_code):
        raise InvalidInputError("invalid `sizes`: non-negative sample sizes")
    sample = _core.stats_stratified_srswor(codes, per_code, seed)
    return Sample(sample.indices, sample.pi)


def poisson_inclusion_probabilities(scores: npt.ArrayLike, expected_size: float) -> FloatArray:
    """π ∝ score, capped at 1 with iterative redistribution, Σπ = ``expected_size``."""
    return _core.stats_poisson_inclusion(_f64("scores", scores), float(expected_size))


def poisson_sample(pi: npt.ArrayLike, seed: int = 0) -> Sample:
    """Poisson sampling: unit i is selected independently with probability ``pi[i]``."""
    sample = _core.stats_poisson_sample(_f64("pi", pi), seed)
    return Sample(sample.indices, sample.pi)
