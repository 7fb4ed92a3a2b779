"""The built wheels install into a brand-new virtual environment and work there, offline.

``make wheels`` writes ``dist/``: the tierscope wheel, the ``tierscope-default-router`` data wheel and
``dist/wheelhouse/`` (the pinned wheels of their runtime dependencies and of the extras installed
here, downloaded from the lock at make time). This test makes a venv in a temporary directory,
installs from those files only (``--no-index``: no network), and runs a script there with ``python
-I`` from an empty directory (no repository, PYTHONPATH or user site on ``sys.path``) that routes with
``Router.default()``, audits a tiny decision log and renders the HTML report. So a missing
dependency, a file left out of a wheel or an import of the repository can never ship unnoticed.

Timings (``Router.default()``, the first route) are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from tierscope import Router
from tierscope.data import banking77

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("TIERSCOPE_DIST") or ROOT / "dist")
EXTRAS = "audit,report,progress,hub"

_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import tierscope
t_import = time.perf_counter() - t0
heavy = sorted(m for m in ("pyarrow", "pandas", "matplotlib", "torch", "onnx") if m in sys.modules)
from tierscope import Router
t1 = time.perf_counter()
router = Router.default()
t_default = time.perf_counter() - t1
t2 = time.perf_counter()
first = router.route("I still have not received my new card, can you check where it is?")
t_first = time.perf_counter() - t2
texts = json.loads(open(sys.argv[1]).read())
batch = router.route_batch(texts)
import numpy as np
np.save(sys.argv[2], batch.probabilities)
np.save(sys.argv[3], batch.tier_index)

# A tiny decision log, routed by the default router, audited and rendered.
from tierscope import DecisionLog, audit, plan_reviews
rng = np.random.default_rng(0)
log = DecisionLog("log", flush_every=1000)
truth = {}
for day in range(2):
    routed = router.route_batch(texts[day * 300:(day + 1) * 300])
    for i, d in enumerate(routed):
        rid = f"d{day}-{i}"
        log.log_decision({
            "request_id": rid, "timestamp": f"2026-11-0{day + 1}T12:00:00+00:00",
            "answered_by": d.tier, "route_confidence": float(d.confidence),
            "route_tail_score": float(d.tail_score),
        })
        truth[rid] = bool(rng.random() > (0.10 if d.tier == "cheap" else 0.04))
    log.flush()
    plan = plan_reviews(log, budget=60, day=f"2026-11-0{day + 1}", seed=day)
    plan.log_reviews(log, {rid: truth[rid] for rid in plan.request_ids})
log.close()
report = audit("log")
html = report.to_html("audit.html")
print(json.dumps({
    "tierscope": tierscope.__file__, "router": str(router.path), "heavy_after_import": heavy,
    "import_s": t_import, "default_s": t_default, "first_route_s": t_first, "first_tier": first.tier,
    "html_bytes": html.stat().st_size, "html_has_png": "data:image/png;base64," in html.read_text(),
    "sys_path": sys.path,
}))
"""


def _wheels() -> tuple[Path, Path, Path]:
    core = sorted(DIST.glob("tierscope-*.whl"))
    data = sorted(DIST.glob("tierscope_default_router-*.whl"))
    house = DIST / "wheelhouse"
    if not core or not data or not house.is_dir():
        pytest.skip(f"no built wheels in {DIST}: run `make wheels` (make test-python does)")
    return core[-1], data[-1], house


def _clean_env(tmp: Path) -> dict[str, str]:
    """No repository, router override, user cache or index: only what the venv itself holds."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TIERSCOPE_", "PYTHON", "PIP_", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(tmp / "home"),
        XDG_CACHE_HOME=str(tmp / "cache"),
        HF_HUB_OFFLINE="1",
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        MPLBACKEND="Agg",
        TIERSCOPE_NUM_THREADS="2",
    )
    return env


def test_fresh_venv_installs_routes_audits_and_renders(default_dir: Path, tmp_path: Path) -> None:
    core, data, house = _wheels()
    env = _clean_env(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=env)
    py = venv / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "--no-index", "--find-links", str(house), "--find-links", str(DIST),
         f"{core}[{EXTRAS}]", str(data)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    print(install.stdout[-1500:])
    listed = subprocess.run(
        [str(py), "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, check=True, timeout=120, env=env,
    )  # fmt: skip
    names = {d["name"].lower() for d in json.loads(listed.stdout)}
    assert {"tierscope", "tierscope-default-router", "pandas", "matplotlib", "tqdm"} <= names
    assert not {
        n for n in names if n == "torch" or n.startswith(("nvidia-", "triton", "sentence-transformers"))
    }

    work = tmp_path / "run"
    work.mkdir()
    texts = banking77("test")[0]
    (work / "texts.json").write_text(json.dumps(texts))
    (work / "check.py").write_text(_SCRIPT)
    run = subprocess.run(
        [str(py), "-I", "check.py", "texts.json", "probs.npy", "tiers.npy"],
        cwd=work, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in out.items() if k != "sys_path"}, indent=2))

    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    assert Path(out["tierscope"]).is_relative_to(venv), out["tierscope"]
    assert Path(out["router"]).is_relative_to(site / "tierscope_default_router"), out["router"]
    assert not any(str(ROOT) in p for p in out["sys_path"]), out["sys_path"]
    assert out["heavy_after_import"] == []
    assert out["first_tier"] in ("cheap", "capable")
    assert out["html_has_png"] and out["html_bytes"] > 10_000
    # The packaged router is the one `make model` built: same decisions, probabilities within 1e-6.
    want = Router.load(default_dir).route_batch(texts)
    np.testing.assert_array_equal(np.load(work / "tiers.npy"), want.tier_index)
    np.testing.assert_allclose(np.load(work / "probs.npy"), want.probabilities, rtol=0, atol=1e-6)
