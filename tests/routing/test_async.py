"""aroute / aroute_batch: the router's asyncio twins give the sync results and leave the loop free."""

from __future__ import annotations

import asyncio

import pytest
from tierscope.exceptions import InvalidInputError
from tierscope.routing import Router

TIMEOUT_S = 300  # bounds every await below; routing 100 short texts takes seconds


def test_100_concurrent_aroute_calls_complete_with_the_sync_results(
    router: Router, queries: list[str]
) -> None:
    sample = queries[:100]

    async def main() -> list:
        return await asyncio.wait_for(asyncio.gather(*(router.aroute(q) for q in sample)), TIMEOUT_S)

    decisions = asyncio.run(main())
    assert len(decisions) == 100
    assert [d.to_dict() for d in decisions] == [router.route(q).to_dict() for q in sample]


def test_aroute_batch_equals_route_batch_and_the_loop_keeps_running(
    router: Router, queries: list[str]
) -> None:
    sample = queries[:400]
    ticks: list[int] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(1)
            await asyncio.sleep(0)

    async def main() -> object:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        batch = await asyncio.wait_for(router.aroute_batch(sample, with_embeddings=True), TIMEOUT_S)
        ticked_during = len(ticks)
        stop.set()
        await asyncio.wait_for(task, TIMEOUT_S)
        assert ticked_during > 0  # the loop ran other work while the batch was routed
        return batch

    batch = asyncio.run(main())
    sync = router.route_batch(sample, with_embeddings=True)
    assert [d.to_dict() for d in batch] == [d.to_dict() for d in sync]  # type: ignore[attr-defined]


def test_the_executor_is_sized_to_the_sessions(router: Router) -> None:
    pool = router._pool()
    assert pool is router._pool() and pool._max_workers == router.threads[0]


def test_bad_arguments_raise_before_leaving_the_loop(router: Router) -> None:
    async def main(coro: object) -> object:
        return await asyncio.wait_for(coro, TIMEOUT_S)  # type: ignore[arg-type]

    with pytest.raises(InvalidInputError, match="`text`"):
        asyncio.run(main(router.aroute(3)))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="single str"):
        asyncio.run(main(router.aroute_batch("one")))
    with pytest.raises(InvalidInputError, match="with_embeddings"):
        asyncio.run(main(router.aroute_batch(["a"], with_embeddings="yes")))  # type: ignore[arg-type]


def test_aroute_batch_takes_the_containers_route_batch_takes(router: Router, queries: list[str]) -> None:
    import pyarrow as pa

    sample = [*queries[:20], None]

    async def main() -> object:
        return await asyncio.wait_for(router.aroute_batch(pa.array(sample)), TIMEOUT_S)

    batch = asyncio.run(main())
    expected = router.route_batch([*queries[:20], ""])
    assert [d.to_dict() for d in batch] == [d.to_dict() for d in expected]  # type: ignore[attr-defined]
