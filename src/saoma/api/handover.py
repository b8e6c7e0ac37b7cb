"""The threads that run API requests' database work, handed over from the event loop.

The thread that went idle last takes the next piece of work: the idle threads are a stack, not a
queue. Under a steady load the same few threads then run everything, their stacks and the
objects they touch still warm in the CPU's caches, and threads are started only as the work at
once needs them, up to the pool's size. A queue read by every thread (a ``SimpleQueue``, as
asyncio's executor has) tends to spread the work round all of them instead (bench/e2e.py:
about 8 % more server CPU per payment, README).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from saoma.core.errors import SaomaError

log = logging.getLogger(__name__)
T = TypeVar("T")
_Loop = asyncio.AbstractEventLoop
_Job = tuple[_Loop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]]


class _Idle:
    """An idle thread's place on the stack: the work given to it, and the lock it sleeps on
    (held while it sleeps; released by whoever gives it the work)."""

    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.job: _Job | None = None
        self.wake = threading.Lock()
        self.wake.acquire()


class Workers:
    """Lighter than asyncio's executor (``loop.run_in_executor`` over a ``ThreadPoolExecutor``):
    the work goes straight to an idle thread and its outcome straight onto the request's asyncio
    future, without a ``concurrent.futures.Future``, the executor's locks and idle-count
    semaphore, or the chaining of one future to the other (bench/handover.py measures both).
    Work that finds every thread busy, and ``size`` of them started, waits its turn in order of
    arrival. The threads are daemons: work cut short at exit is a transaction the database
    rolls back.
    """

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._lock = threading.Lock()
        self._idle: list[_Idle] = []  # the thread idle the shortest time last
        self._waiting: deque[_Job] = deque()
        self._started = 0

    @property
    def started(self) -> int:
        """How many threads the work has needed so far."""
        return self._started

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in one of the threads, with the caller's context variables."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._give((loop, future, contextvars.copy_context(), work))
        return await future

    def _give(self, job: _Job) -> None:
        with self._lock:
            if self._idle:
                idle = self._idle.pop()
                idle.job = job
                idle.wake.release()
                return
            if self._started >= self._size:
                self._waiting.append(job)
                return
            self._started += 1
            number = self._started
        first = _Idle()  # the job reaches the thread through it, so the thread keeps no hold of it
        first.job = job
        first.wake.release()
        thread = threading.Thread(
            target=self._work, args=(first,), name=f"{self._name}-{number}", daemon=True
        )
        try:
            thread.start()
        except BaseException:  # no thread to be had: the request hears it, nothing is lost
            with self._lock:
                self._started -= 1
            raise

    def _work(self, idle: _Idle) -> None:
        job: _Job | None = None
        while True:
            if job is None:
                idle.wake.acquire()
                job, idle.job = idle.job, None
            if job is None:  # woken without work (whoever wakes a thread gives it some first)
                continue
            answer = _do(*job)
            job = None  # nothing of a request kept while idle
            with self._lock:  # on the stack before the request hears back and gives more work
                if self._waiting:
                    job = self._waiting.popleft()
                else:
                    self._idle.append(idle)
            if answer is not None:
                try:
                    answer()
                except BaseException:  # the thread is on the stack: it must live to be woken
                    log.exception("a request's outcome could not be handed back")
                answer = None


def _do(
    loop: _Loop, future: asyncio.Future[Any], context: contextvars.Context, work: Callable[[], Any]
) -> Callable[[], None] | None:
    """Run ``work``; what tells its request the outcome (None: the request was cancelled before
    the work began, and the work is not done)."""
    if future.cancelled():
        return None
    done: Callable[[asyncio.Future[Any], Any], None]
    try:  # whatever it raises is the request's, not the thread's
        outcome, done = context.run(work), _succeeded
    except BaseException as exc:  # the request's own outcome: raised where it awaits
        outcome, done = exc, _failed

    def answer() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(done, future, outcome)

    return answer


def _succeeded(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # the request may have been cancelled (its client went away)
        future.set_result(result)


def _failed(future: asyncio.Future[Any], exc: BaseException) -> None:
    if future.done():  # cancelled meanwhile: nobody hears it, so the log does if it is a bug
        if not isinstance(exc, SaomaError):
            log.warning("the work of a cancelled request failed", exc_info=exc)
        return
    if isinstance(exc, StopIteration):  # a future cannot carry one (as anyio's threads say)
        wrapped = RuntimeError("the request's work raised StopIteration")
        wrapped.__cause__ = exc
        exc = wrapped
    future.set_exception(exc)
