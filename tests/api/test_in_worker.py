"""The hand-over of a request's work to a thread (``saoma.api.deps.in_worker``): the work sees
the request's context, its answer or its error comes back to the request, work whose request
was cancelled before it began is not done, the thread idle the shortest time takes the next
work, and work finding every thread busy waits its turn."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from saoma.api.deps import in_worker
from saoma.api.handover import Workers
from saoma.core.errors import InsufficientFunds

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``coroutine`` on an event loop of its own thread, as a server's loop runs (this test's
    thread may hold a running loop already: Playwright's, in a worker that ran browser tests)."""
    with ThreadPoolExecutor(1) as loop_thread:
        return loop_thread.submit(asyncio.run, coroutine).result(timeout=30)


def test_the_work_runs_in_another_thread_with_the_request_s_context() -> None:
    async def handle() -> tuple[str, bool]:
        request_id.set("req-7")
        return await in_worker(
            lambda: (request_id.get(), threading.current_thread() is threading.main_thread())
        )

    assert run(handle()) == ("req-7", False)


def test_arguments_are_passed_on() -> None:
    def pay(amount: int, *, currency: str) -> str:
        return f"{amount} {currency}"

    assert run(in_worker(pay, 1_800, currency="CNY")) == "1800 CNY"


def test_a_refusal_and_a_stop_iteration_come_back_to_the_request() -> None:
    def refuse() -> None:
        raise InsufficientFunds("the wallet does not hold enough money")

    def stop() -> None:
        raise StopIteration

    with pytest.raises(InsufficientFunds):
        run(in_worker(refuse))
    with pytest.raises(RuntimeError, match="StopIteration"):  # a future cannot carry one
        run(asyncio.wait_for(in_worker(stop), 5))


def test_work_whose_request_was_cancelled_before_it_began_is_not_done() -> None:
    workers = Workers(1, "test")
    busy, release = threading.Event(), threading.Event()
    done: list[str] = []

    def block() -> None:
        busy.set()
        release.wait(5)

    async def scenario() -> None:
        first = asyncio.ensure_future(workers.run(block))
        await asyncio.get_running_loop().run_in_executor(None, busy.wait, 5)
        second = asyncio.ensure_future(workers.run(lambda: done.append("second")))
        await asyncio.sleep(0)  # queued behind the first, on the one thread
        second.cancel()  # the client went away
        release.set()
        await first
        third = await workers.run(lambda: done.append("third"))
        assert third is None

    run(scenario())
    assert done == ["third"]


def test_the_thread_idle_the_shortest_time_takes_the_next_work() -> None:
    workers = Workers(40, "test")
    both, release = threading.Barrier(2, timeout=5), threading.Event()

    def together() -> str:
        both.wait()  # two at once: two threads
        release.wait(5)
        return threading.current_thread().name

    async def scenario() -> tuple[list[str], list[str]]:
        first = asyncio.ensure_future(workers.run(together))
        second = asyncio.ensure_future(workers.run(together))
        await asyncio.sleep(0.05)
        release.set()
        pair = [await first, await second]
        one_by_one = [await workers.run(lambda: threading.current_thread().name) for _ in range(20)]
        return pair, one_by_one

    pair, one_by_one = run(scenario())
    assert len(set(pair)) == 2
    assert set(one_by_one) == {one_by_one[0]} and one_by_one[0] in pair  # the warm one, always
    assert workers.started == 2  # none started for work one at a time


def test_work_finding_every_thread_busy_waits_its_turn_in_order() -> None:
    workers = Workers(1, "test")
    release = threading.Event()
    order: list[int] = []

    def job(n: int) -> int:
        if n == 0:
            release.wait(5)  # the one thread held
        order.append(n)
        return n

    async def scenario() -> list[int]:
        jobs = [asyncio.ensure_future(workers.run(lambda n=n: job(n))) for n in range(6)]
        await asyncio.sleep(0.05)
        assert order == []  # five wait, no second thread is started for them
        release.set()
        return [await j for j in jobs]

    assert run(scenario()) == [0, 1, 2, 3, 4, 5]
    assert order == [0, 1, 2, 3, 4, 5]  # in order of arrival
    assert workers.started == 1


class Answer:
    """What a request's work returned (weakly referable, as a dict is not)."""


def test_an_idle_thread_keeps_nothing_of_the_requests_it_served() -> None:
    workers = Workers(40, "test")
    answers: list[weakref.ref[Answer]] = []

    def work() -> Answer:
        answer = Answer()
        answers.append(weakref.ref(answer))
        return answer

    async def scenario() -> None:
        await asyncio.gather(*(workers.run(work) for _ in range(3)))  # the first of some threads
        await workers.run(work)

    run(scenario())
    gc.collect()
    assert workers.started >= 1
    assert [ref() for ref in answers] == [None] * 4
