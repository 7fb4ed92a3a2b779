"""Tail-score cost: the default router with its kNN novelty index vs the same router without a tail
score and with the previous two-centroid Mahalanobis score, one run, as ratios (issue 15).

Routes BANKING77 test queries in batches on one core (one single-threaded session), so the
difference per query is the tail score's added latency on one core; also reports the index size.
The three routers share the same model file (copies of one router directory that differ only in
``router.json``'s tail section).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tierscope import Router  # noqa: E402
from tierscope._runtime import cpu_info  # noqa: E402
from tierscope.data import banking77  # noqa: E402
from tierscope.routing.router import default_router_dir  # noqa: E402

N_QUERIES = 512


def _variant(src: Path, dst: Path, edit: Any) -> Path:
    """A copy of ``src``'s router files with ``router.json`` edited."""
    dst.mkdir()
    for name in ("model.onnx", "tokenizer.json", "tail_index.bin"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    config = json.loads((src / "router.json").read_text())
    edit(config)
    (dst / "router.json").write_text(json.dumps(config))
    return dst


def _best_seconds(router: Router, texts: list[str], repeats: int = 5) -> float:
    router.route_batch(texts)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        router.route_batch(texts)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    src = default_router_dir()
    config = json.loads((src / "router.json").read_text())
    if config.get("novelty") is None:
        print("the default router has no kNN tail index (rebuild it with `make model`)", file=sys.stderr)
        return 1
    texts = banking77("test")[0][:N_QUERIES]
    cpu = cpu_info()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)

        def no_tail(c: dict[str, Any]) -> None:
            c.pop("novelty", None)
            c["tail"] = None
            c["thresholds"]["max_tail_score"] = None

        bare = _variant(src, base / "bare", no_tail)
        opts: dict[str, Any] = dict(sessions=1, intra_threads=1, guard=False)
        t_bare = _best_seconds(Router.load(bare, **opts), texts)
        t_knn = _best_seconds(Router.load(src, **opts), texts)
        t_old = None
        previous = os.environ.get("TIERSCOPE_V1_ROUTER")  # a router.json with the v1 `tail` section
        if previous and (Path(previous) / "router.json").is_file():
            v1_tail = json.loads((Path(previous) / "router.json").read_text()).get("tail")

            def old_tail(c: dict[str, Any]) -> None:
                no_tail(c)
                c["tail"] = v1_tail

            t_old = _best_seconds(Router.load(_variant(src, base / "v1", old_tail), **opts), texts)
    index_bytes = (src / config["novelty"]["index_file"]).stat().st_size
    added_ms = (t_knn - t_bare) / len(texts) * 1000
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}); one core, one single-threaded session\n")
    print("| router (same model) | batch of 512, best of 5 | ratio to no tail score |")
    print("|---|---|---|")
    print(f"| no tail score | {t_bare * 1000:.1f} ms | 1.00 |")
    print(
        f"| kNN novelty index ({config['novelty']['rows']} rows) | {t_knn * 1000:.1f} ms "
        f"| {t_knn / t_bare:.3f} |"
    )
    if t_old is not None:
        print(f"| previous 2-centroid Mahalanobis | {t_old * 1000:.1f} ms | {t_old / t_bare:.3f} |")
    print(f"\nadded latency per query on one core: {added_ms:.3f} ms (target ≤ 0.2 ms);")
    print(
        f"index file {index_bytes / 1e6:.2f} MB "
        f"(router.json {(src / 'router.json').stat().st_size / 1e3:.0f} kB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
