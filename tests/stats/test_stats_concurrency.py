"""Fork- and thread-safety of the statistics core.

Every parallel statistics function runs in the parent first (so its worker threads exist) and then
in a forked child, which must finish in time with the same result. Stateful objects (Aggregate,
Monitor, Cusum) are hammered from several threads at once. Every wait has a timeout, so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial
from typing import Any

import numpy as np
import pytest
from tierscope import stats
from tierscope.exceptions import InvalidInputError

CHILD_TIMEOUT_S = 60.0
THREAD_TIMEOUT_S = 60.0
THREADS = 8


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _in_forked_child(fn: Callable[[], Any], timeout: float = CHILD_TIMEOUT_S) -> Any:
    """Run ``fn`` in a forked child and return its (pickled) result; fail if the child hangs."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            os.close(read_fd)
            try:
                payload = pickle.dumps(("ok", fn()))
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                payload = pickle.dumps(("error", repr(e)))
            with os.fdopen(write_fd, "wb") as f:
                f.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(left, 0.0))
            if not ready:
                _kill(pid)
                pytest.fail(f"the forked child hung (no result within {timeout:.0f} s)")
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            _kill(pid)
            pytest.fail("the forked child did not exit")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
    outcome, value = pickle.loads(b"".join(chunks))
    assert outcome == "ok", value
    return value


def _groups_data(n: int = 20_000, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=n)
    prod = rng.normal(0.1, 1.0, size=n)
    rg = rng.integers(0, 4, size=n)
    pg = rng.integers(0, 4, size=n)
    return ref, rg, prod, pg


def _ks_by_group() -> Any:
    ref, rg, prod, pg = _groups_data()
    return stats.ks_by_group(ref, rg, prod, pg)


def _drift_by_group() -> Any:
    ref, rg, prod, pg = _groups_data()
    return stats.drift_by_group(ref, rg, prod, pg, bins=10)


def _ks_2samp_large() -> Any:
    # Over 2**20 values per side: the parallel sort path.
    rng = np.random.default_rng(2)
    return stats.ks_2samp(rng.normal(size=1_100_000), rng.normal(size=1_100_000), method="asymp")


def _psi_samples_large() -> Any:
    rng = np.random.default_rng(3)
    return stats.psi_samples(rng.normal(size=1_100_000), rng.normal(0.05, 1.0, size=50_000))


def _aggregate_from_sample() -> Any:
    # Three 2**18-row chunks: the parallel build.
    n = 600_000
    rng = np.random.default_rng(4)
    y = rng.random(n)
    pi = rng.uniform(0.1, 1.0, size=n)
    agg = stats.Aggregate.from_sample(y, pi, rng.integers(0, 3, size=n), rng.integers(0, 5, size=n))
    return agg.to_json()


def _bootstrap(threads: int) -> Callable[[], Any]:
    def run() -> Any:
        rng = np.random.default_rng(5)
        values = rng.normal(size=5_000)
        return stats.bootstrap_interval(values, replicates=200, seed=7, threads=threads)

    return run


def _coverage() -> Any:
    rng = np.random.default_rng(6)
    n = 2_000
    y = (rng.random(n) < 0.8).astype(float)
    strata = rng.integers(0, 2, size=n)
    domains = rng.integers(0, 3, size=n)
    sizes = [60, 60]
    return stats.simulate_coverage(y, strata, domains, "srswor", sizes=sizes, runs=200, seed=3, threads=2)


def _monitor_sim() -> Any:
    return stats.simulate_monitor(
        0.85,
        0.05,
        days=30,
        reviews_per_day=50,
        p_before=0.85,
        p_after=0.7,
        change_day=10,
        runs=60,
        seed=11,
        threads=2,
    )


def _sequential_plan() -> Any:
    return stats.sequential_plan(0.85, 0.1, days=14, sims=40, seed=2, threads=2, max_per_day=400)


PARALLEL_CALLS: dict[str, Callable[[], Any]] = {
    "ks_by_group": _ks_by_group,
    "drift_by_group": _drift_by_group,
    "ks_2samp_large": _ks_2samp_large,
    "psi_samples_large": _psi_samples_large,
    "aggregate_from_sample": _aggregate_from_sample,
    "bootstrap_threads_2": _bootstrap(2),
    "bootstrap_threads_default": _bootstrap(0),
    "simulate_coverage": _coverage,
    "simulate_monitor": _monitor_sim,
    "sequential_plan": _sequential_plan,
}


@pytest.mark.parametrize("name", list(PARALLEL_CALLS))
def test_parallel_stats_work_in_a_forked_child(name: str) -> None:
    fn = PARALLEL_CALLS[name]
    parent = fn()  # the parent's worker threads now exist
    child = _in_forked_child(fn)
    # repr: exact float round trip, and NaN compares equal to NaN.
    assert repr(child) == repr(parent)
    # The parent's pools still work after the fork.
    assert repr(fn()) == repr(parent)


def test_forked_grandchild_works_too() -> None:
    parent = _ks_by_group()

    def child() -> Any:
        first = _ks_by_group()
        return first, _in_forked_child(_ks_by_group)

    first, grandchild = _in_forked_child(child, timeout=2 * CHILD_TIMEOUT_S)
    assert repr(first) == repr(parent) and repr(grandchild) == repr(parent)


# -- threads -----------------------------------------------------------------------------------


def _run_threads(fns: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(fns)) as ex:
        futures = [ex.submit(f) for f in fns]
        done, not_done = wait(futures, timeout=THREAD_TIMEOUT_S)
        if not_done:
            for f in not_done:
                f.cancel()
            pytest.fail(f"{len(not_done)} of {len(fns)} threads did not finish (deadlock?)")
        return [f.result(timeout=0) for f in futures]


def _dyadic_chunk(i: int, n: int = 3_000) -> tuple[np.ndarray, ...]:
    """Scores and probabilities whose sums are exact in binary, so merge order cannot matter."""
    rng = np.random.default_rng(100 + i)
    y = rng.choice([0.0, 0.5, 1.0], size=n)
    pi = rng.choice([1.0, 0.5, 0.25], size=n)
    return y, pi, rng.integers(0, 3, size=n), rng.integers(0, 4, size=n)


def test_threads_hammering_one_aggregate_match_a_sequential_run() -> None:
    rounds = 6
    chunks = [[_dyadic_chunk(t * rounds + r) for r in range(rounds)] for t in range(THREADS)]
    shared = stats.Aggregate()
    seen: list[int] = []

    def work(t: int) -> None:
        for y, pi, h, d in chunks[t]:
            shared.add_sample(y, pi, h, d)
            shared.add_population(h, d)
            shared.add_population_count(int(h[0]), int(d[0]), 2.0)
            shared.estimate_population()
            shared.estimate_domains(level=0.9)
            shared.estimate_strata()
            seen.append(len(shared))
            shared.to_json()

    _run_threads([partial(work, t) for t in range(THREADS)])
    sequential = stats.Aggregate()
    for t in range(THREADS):
        for y, pi, h, d in chunks[t]:
            sequential.add_sample(y, pi, h, d)
            sequential.add_population(h, d)
            sequential.add_population_count(int(h[0]), int(d[0]), 2.0)
    assert len(seen) == THREADS * rounds
    assert shared.to_json() == sequential.to_json()
    assert repr(shared.estimate_domains()) == repr(sequential.estimate_domains())


def test_concurrent_cross_merges_do_not_deadlock() -> None:
    a = stats.Aggregate.from_sample(*_dyadic_chunk(1))
    b = stats.Aggregate.from_sample(*_dyadic_chunk(2))
    expected = a.merge(b).to_json()

    def work(t: int) -> None:
        for _ in range(200):
            out = a.merge(b) if t % 2 else b.merge(a)
            assert out.to_json() == expected
            a._inner.merge(stats.Aggregate()._inner)  # in place, both locks, no change
            b._inner.merge(stats.Aggregate()._inner)

    _run_threads([partial(work, t) for t in range(THREADS)])
    assert a.merge(b).to_json() == expected


def test_merging_an_aggregate_with_itself_doubles_it() -> None:
    a = stats.Aggregate.from_sample(*_dyadic_chunk(3))
    doubled = stats.Aggregate.from_sample(*_dyadic_chunk(3))
    doubled.add_sample(*_dyadic_chunk(3))
    before = a.to_json()
    assert a.merge(a).to_json() == doubled.to_json()
    assert a.to_json() == before  # merge() returns a new aggregate
    a._inner.merge(a._inner)  # in place, same object
    assert a.to_json() == doubled.to_json()


def test_failed_updates_leave_the_state_unchanged() -> None:
    agg = stats.Aggregate.from_sample(*_dyadic_chunk(4))
    before = agg.to_json()
    y, pi, h, d = _dyadic_chunk(5)
    pi[-1] = 0.0
    with pytest.raises(InvalidInputError):
        agg.add_sample(y, pi, h, d)
    with pytest.raises(InvalidInputError):
        agg.add_population(h, d[:-1])
    with pytest.raises(InvalidInputError):
        agg.add_population_count(0, 0, -1.0)
    assert agg.to_json() == before

    mon = stats.Monitor(0.85, 0.05)
    mon.update(np.ones(20))
    before = mon.to_json()
    with pytest.raises(InvalidInputError):
        mon.update(np.array([1.0, 0.0, 2.0]))
    assert mon.to_json() == before

    cusum = stats.Cusum.bernoulli(0.9, 0.8, 4.0)
    cusum.update(np.zeros(5))
    before = cusum.to_json()
    with pytest.raises(InvalidInputError):
        cusum.update(np.array([0.0, 0.0, 3.0]))  # bad value after valid ones
    assert cusum.to_json() == before


def test_threads_updating_one_monitor_count_every_day() -> None:
    per_thread = 25
    day = (np.arange(40) % 10 != 0).astype(float)  # the same data every day: order cannot matter
    shared = stats.Monitor(0.85, 0.05, restart_every=7)

    def work() -> list[int]:
        return [shared.update(day).day for _ in range(per_thread)]

    days = _run_threads([work] * THREADS)
    total = THREADS * per_thread
    assert sorted(d for ds in days for d in ds) == list(range(1, total + 1))
    assert shared.day == total
    history = shared.history
    assert len(history) == total
    assert [s.day for s in history] == list(range(1, total + 1))
    sequential = stats.Monitor(0.85, 0.05, restart_every=7)
    for _ in range(total):
        sequential.update(day)
    assert shared.to_json() == sequential.to_json()


def test_threads_updating_one_cusum_count_every_day() -> None:
    per_thread = 50
    day = np.array([1.0, 0.0, 1.0, 1.0])
    shared = stats.Cusum.bernoulli(0.9, 0.7, 1e9)

    def work() -> None:
        for _ in range(per_thread):
            shared.update(day)

    _run_threads([work] * THREADS)
    sequential = stats.Cusum.bernoulli(0.9, 0.7, 1e9)
    for _ in range(THREADS * per_thread):
        sequential.update(day)
    assert shared.to_json() == sequential.to_json()
