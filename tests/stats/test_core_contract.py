"""The native module's contract with the façade: inputs read in place (zero-copy), exceptions
raised as the very classes of ``tierscope.exceptions``, result classes that cannot be changed,
and ``build_info()`` for bug reports. (The stub ``_core.pyi`` is checked by mypy's stubtest in
``make lint``.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tierscope
from tierscope import Router, _core, exceptions
from tierscope import stats as ts
from tierscope._runtime import build_info, cpu_info

# -- zero-copy inputs ----------------------------------------------------------------------------


def test_a_contiguous_float64_array_is_read_in_place() -> None:
    x = np.arange(1000, dtype=np.float64)
    assert _core._input_address(x) == x.ctypes.data


def test_a_non_contiguous_array_is_copied_once_and_gives_the_same_results() -> None:
    rng = np.random.default_rng(5)
    wide = rng.random(4000)
    strided = wide[::2]
    dense = np.ascontiguousarray(strided)
    assert not strided.flags.c_contiguous
    assert _core._input_address(strided) != strided.ctypes.data  # the copy
    # Straight into the core (the façade would make it contiguous first).
    assert _core.stats_psi(strided + 1, dense[::-1] + 1) == _core.stats_psi(dense + 1, dense[::-1].copy() + 1)
    a, b = _core.stats_t_interval(strided), _core.stats_t_interval(dense)
    assert (a.lower, a.upper, a.estimate) == (b.lower, b.upper, b.estimate)
    codes = np.arange(4000, dtype=np.int64) % 3
    agg_strided, agg_dense = _core.StatsAggregate(), _core.StatsAggregate()
    agg_strided.add_sample(strided, np.full(4000, 0.5)[::2], codes[::2], codes[1::2])
    agg_dense.add_sample(dense, np.full(2000, 0.5), codes[::2].copy(), codes[1::2].copy())
    assert agg_strided.to_json() == agg_dense.to_json()
    # And through the façade.
    assert ts.t_interval(strided) == ts.t_interval(dense)
    assert ts.psi_samples(strided, wide[1::2]) == ts.psi_samples(dense, np.ascontiguousarray(wide[1::2]))


def test_a_read_only_memmap_is_read_in_place(tmp_path: Path) -> None:
    values = np.random.default_rng(2).random(10_000)
    values.tofile(tmp_path / "scores.f64")
    mapped = np.memmap(tmp_path / "scores.f64", dtype=np.float64, mode="r")
    assert not mapped.flags.writeable
    assert _core._input_address(np.ascontiguousarray(mapped)) == mapped.ctypes.data
    assert ts.t_interval(mapped) == ts.t_interval(values)
    assert ts.bootstrap_interval(mapped, replicates=50) == ts.bootstrap_interval(values, replicates=50)


def test_a_large_input_does_not_raise_peak_memory_by_its_size() -> None:
    # In a fresh process, so the peak (ru_maxrss) is this call's: copying the two 128 MiB inputs
    # would raise it by 256 MiB; reading them in place raises it by (almost) nothing. (t_interval
    # itself allocates nothing per element; psi, say, normalises its inputs into new arrays.)
    script = textwrap.dedent(
        """
        import resource
        import numpy as np
        from tierscope import stats
        x = np.random.default_rng(0).random(16 * 1024 * 1024)
        w = np.ones_like(x)
        stats.t_interval(x[:10], w[:10])  # load everything the call needs first
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats.t_interval(x, w)
        stats.t_interval(x)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    growth_mib = int(out.stdout.strip())
    assert growth_mib < 32, f"peak RSS grew by {growth_mib} MiB over two 128 MiB inputs: they were copied"


# -- exceptions by class -------------------------------------------------------------------------

CORE_ERRORS = {
    "invalid_input": exceptions.InvalidInputError,
    "file_not_found": exceptions.TierscopeFileNotFoundError,
    "model_load": exceptions.ModelLoadError,
    "runtime": exceptions.RuntimeUnavailableError,
    "inference": exceptions.InferenceError,
    "io": exceptions.TierscopeError,
    "io_not_found": exceptions.TierscopeFileNotFoundError,
}


@pytest.mark.parametrize(("variant", "cls"), sorted(CORE_ERRORS.items()))
def test_every_core_error_is_raised_as_the_class_in_exceptions(
    variant: str, cls: type[exceptions.TierscopeError]
) -> None:
    with pytest.raises(exceptions.TierscopeError) as info:
        _core._raise_for_test(variant)
    assert type(info.value) is cls
    assert isinstance(info.value, exceptions.TierscopeError)


def test_real_errors_are_the_exception_classes_themselves(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as invalid:
        ts.t_interval([0.5, float("nan")])
    assert type(invalid.value) is exceptions.InvalidInputError
    assert str(invalid.value) == "invalid `values[1]`: a finite number, got NaN"
    with pytest.raises(FileNotFoundError) as missing:
        Router.load(tmp_path / "no-such-router")
    assert type(missing.value) is exceptions.TierscopeFileNotFoundError
    with pytest.raises(exceptions.TierscopeError) as panic:
        _core._panic_for_test()
    assert type(panic.value) is exceptions.InternalError is tierscope.InternalError


def test_an_unknown_test_variant_is_an_invalid_input() -> None:
    with pytest.raises(exceptions.InvalidInputError, match="variant"):
        _core._raise_for_test("no_such_variant")


# -- result classes ------------------------------------------------------------------------------


def test_result_classes_are_frozen_and_not_built_from_python() -> None:
    interval = _core.stats_t_interval(np.array([0.1, 0.5, 0.9]))
    assert isinstance(interval, _core.StatsInterval)
    with pytest.raises(AttributeError):
        interval.lower = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        _core.StatsInterval()
    with pytest.raises(TypeError):
        type("Sub", (_core.StatsInterval,), {})


# -- build_info ----------------------------------------------------------------------------------


def test_build_info_describes_the_build_and_the_machine() -> None:
    info = build_info()
    assert isinstance(info, _core.BuildInfo)
    assert info.version == tierscope.__version__ == _core.__version__
    assert info.profile in ("release", "debug")
    assert info.target and "-" in info.target
    assert info.rustc is None or info.rustc.startswith("rustc ")
    assert info.pyo3 is not None and info.pyo3.startswith("0.")
    assert info.python_abi is not None and info.python_abi.startswith("abi3")
    assert info.cpu_isa == cpu_info()["isa"]
    features = cpu_info()["features"]
    assert isinstance(features, dict)
    assert info.cpu_features == [name for name, present in features.items() if present]
    assert info.onnxruntime_status in ("loaded", "not loaded", "not found", "failed")
    text = repr(info)
    assert text.startswith("BuildInfo(version='") and "cpu_features=[" in text
    for name in ("profile", "rustc", "pyo3", "python_abi", "onnxruntime_status", "onnxruntime_path"):
        assert f"{name}=" in text


def test_build_info_reports_the_onnx_runtime_actually_loaded(router: Router) -> None:
    router.route("load the runtime")
    info = build_info()
    path, version = _core.onnxruntime_info()
    assert info.onnxruntime_status == "loaded"
    assert info.onnxruntime_path == path and isinstance(path, Path) and path.is_file()
    assert info.onnxruntime_version == version and version[:1].isdigit()
    assert info.onnxruntime_error is None


def test_build_info_before_the_runtime_is_loaded_says_where_it_would_come_from() -> None:
    script = (
        "from tierscope._runtime import build_info; i = build_info(); "
        "print(i.onnxruntime_status, i.onnxruntime_path, sep='|')"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    status, _, path = out.stdout.strip().partition("|")
    assert status == "not loaded" and "libonnxruntime.so" in path


def test_router_source_is_a_path(default_dir: Path) -> None:
    core = _core.RouterCore.load(default_dir)
    assert isinstance(core.source, Path) and core.source == Path(default_dir)
