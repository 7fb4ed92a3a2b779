"""Type stubs for the native module ``tierscope._core`` (built from ``src/python``)."""

import numpy as np
import numpy.typing as npt

__version__: str

# --- router ---
# --- end router ---

# --- stats ---
# --- end stats ---
