"""The default int8 model computes the same numbers on every x86-64 CPU class.

Without VNNI, ONNX Runtime's u8×s8 kernels add products in pairs into saturating 16-bit lanes. The test
runs the encoder under ``qemu-x86_64 -cpu EPYC-Rome`` (an emulated AVX2-only CPU: no AVX-512, no
VNNI; ``.ci/run`` installs Debian's ``qemu-user``) and compares with this machine, bit for bit. A
control model quantised without the saturation-free step must differ there, which proves the
emulated CPU really takes the saturating path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tierscope._runtime import cpu_info
from tierscope.data import banking77
from tierscope.models import encoder_export as ee

QEMU = shutil.which("qemu-x86_64")
EMULATED_CPU = "EPYC-Rome"  # AMD Zen 2: AVX2 + FMA, no AVX-512, no VNNI

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

_CHILD = """
import json, sys
import numpy as np
from tierscope.models import encoder_export as ee
from tierscope._runtime import cpu_info

texts = json.loads(open(sys.argv[1]).read())
out = {"isa": cpu_info()["isa"]}
for i, model in enumerate(sys.argv[3:]):
    out[str(i)] = ee.embed_onnx(model, sys.argv[2], texts).tolist()
print(json.dumps(out))
"""


def test_cpu_class_is_detected() -> None:
    info = cpu_info()
    assert info["isa"] in {"AMX", "AVX-512 VNNI", "AVX-VNNI", "AVX-512", "AVX2", "pre-AVX2"}
    assert isinstance(info["features"], dict) and set(info["features"]) >= {"avx2", "avx512_vnni"}


@pytest.mark.skipif(QEMU is None, reason="qemu-x86_64 not installed (.ci/run installs qemu-user)")
def test_int8_model_is_bit_identical_on_an_avx2_only_cpu(
    default_dir: Path, fp32_dir: Path, tmp_path: Path
) -> None:
    assert QEMU is not None
    texts = banking77("test")[0][::128][:24]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    tokenizer = default_dir / "tokenizer.json"
    unsafe = tmp_path / "unsafe.onnx"
    train = banking77("train")[0]
    ee.quantize_encoder_int8(fp32_dir / "model.onnx", unsafe, tokenizer, train[::25], saturation_free=None)
    models = [str(default_dir / "model.onnx"), str(unsafe)]
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    args = [str(script), str(tmp_path / "texts.json"), str(tokenizer), *models]
    native = json.loads(
        subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, check=True, timeout=300
        ).stdout
    )
    emulated_run = subprocess.run(
        [QEMU, "-cpu", EMULATED_CPU, sys.executable, *args], capture_output=True, text=True, timeout=900
    )
    assert emulated_run.returncode == 0, emulated_run.stderr[-2000:]
    emulated = json.loads(emulated_run.stdout)
    assert emulated["isa"] == "AVX2"
    shipped_diff = np.abs(np.array(native["0"]) - np.array(emulated["0"])).max()
    control_diff = np.abs(np.array(native["1"]) - np.array(emulated["1"])).max()
    if native["isa"] in ("AVX-512 VNNI", "AVX-VNNI", "AMX"):
        # The control saturates on AVX2 only: here it must differ, or the emulator proved nothing.
        assert control_diff > 1e-4, control_diff
    # Measured bit-identical (0.0); the tolerance only allows float-kernel rounding, far below saturation.
    assert shipped_diff <= 1e-5, shipped_diff
