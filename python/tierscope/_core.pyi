"""Type stubs for the native module ``tierscope._core`` (built from ``src/python``)."""

from typing import Any

__version__: str

# --- router ---

class RouterCore:
    @staticmethod
    def load(
        path: str,
        *,
        sessions: int | None = None,
        intra_threads: int | None = None,
        token_budget: int = 4096,
        max_batch: int = 64,
        ort_search_dirs: list[str] = ...,
    ) -> RouterCore: ...
    def route_batch(
        self, texts: list[str] | tuple[str, ...], *, with_embeddings: bool = False
    ) -> dict[str, Any]: ...
    def save(self, path: str) -> None: ...
    def config_json(self) -> str: ...
    @property
    def tiers(self) -> list[str]: ...
    @property
    def threads(self) -> tuple[int, int]: ...
    @property
    def source(self) -> str | None: ...

def fit_router(
    encoder_dir: str,
    texts: list[str],
    tiers: list[str],
    *,
    tier_order: list[str],
    holdout_fraction: float = 0.2,
    l2: float = 1e-4,
    seed: int = 0,
    shrinkage: float = 0.1,
    min_confidence: float | None = None,
    max_length: int = 128,
    provenance_json: str | None = None,
    sessions: int | None = None,
    intra_threads: int | None = None,
    ort_search_dirs: list[str] = ...,
) -> RouterCore: ...
def onnxruntime_info(search_dirs: list[str] = ...) -> tuple[str, str]: ...
def _sleep_detached(seconds: float) -> None: ...
def _panic_for_test() -> None: ...

# --- end router ---

# --- stats ---
# --- end stats ---
