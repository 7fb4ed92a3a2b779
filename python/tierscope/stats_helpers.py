"""Small numpy metrics shared by the router build, audits and the demo."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def expected_calibration_error(confidence: npt.ArrayLike, correct: npt.ArrayLike, bins: int = 15) -> float:
    """ECE of top-class ``confidence`` against boolean ``correct`` with equal-width bins."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.shape != hit.shape:
        raise ValueError(f"confidence and correct must have the same shape, got {conf.shape} and {hit.shape}")
    if conf.size == 0:
        return float("nan")
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += abs(conf[mask].sum() - hit[mask].sum())
    return float(total / conf.size)
