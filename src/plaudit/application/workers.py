"""Fold worker processes: pages of members handed out, results back in page order.

Whole-program work (a publish's re-fold, ``plaudit replay``, a backtest) is a fold per
member with nothing shared between members, so it splits by member across processes: the
GIL keeps threads on one core, processes are not bound by it. Each worker opens its own
connection (the store's :meth:`~plaudit.application.ports.Store.opener`), prepares its job
once (a job compiles its rulebooks from their text there: a compiled rulebook holds code
objects, which do not pickle) and runs it on each page it is given. The caller receives the
results **in page order**, so whatever it does with them — the one writer's transactions,
a backtest's running comparison — happens exactly as it would with no workers at all.

At most two pages per worker are in flight, so memory is bounded by pages, not by the
program. Workers are started with ``spawn`` (a fork of a process that runs threads — an
API server, a job — can inherit a held lock), ignore Ctrl-C (the caller stops them), and
any failure of one (an exception, a crash, a kill) stops the rest and is raised in the
caller; nothing a worker computed is written by it.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from plaudit.application.ports import Store
from plaudit.domain.errors import PlauditError

if TYPE_CHECKING:
    from plaudit.domain.rulebook import Rulebook

Page = list[tuple[int, str]]
"""A page of members: (member_no, member id), in member order."""
R = TypeVar("R", covariant=True)

IN_FLIGHT = 2
"""Pages handed to each worker ahead of the one the caller is waiting for."""
MIN_PAGES_PER_WORKER = 2
"""Below this many pages a worker each, folding in this process is faster than starting
processes (about half a second each)."""
_POLL_SECONDS = 1.0


class PageJob(Protocol[R]):
    """What a worker runs on each page (picklable: it travels to the worker)."""

    def prepare(self) -> None:
        """Build what every page needs (compiled rulebooks), once per process."""
        ...

    def run(self, store: Store, page: Page) -> R: ...


@dataclass(frozen=True)
class RulebookText:
    """A rulebook as a worker process gets it: its text, compiled there."""

    text: str
    name: str
    version: int

    def compile(self) -> Rulebook:
        from plaudit.rulebook import load_rulebook  # the compiler only where it runs

        return load_rulebook(self.text, self.name).with_version(self.version)


class WorkerFailed(RuntimeError):
    """A fold worker stopped or failed with something other than a plaudit error."""

    @classmethod
    def stopped(cls, proc: BaseProcess) -> WorkerFailed:
        return cls(f"fold worker {proc.name} stopped (exit code {proc.exitcode})")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def workers_for(members: int, page: int, workers: int | None) -> int:
    """How many processes to fold ``members`` with in pages of ``page``: ``workers``
    (None: one per core), fewer when there are too few pages to keep them busy."""
    wanted = default_workers() if workers is None else workers
    return max(1, min(wanted, -(-members // page) // MIN_PAGES_PER_WORKER))


def pages(store: Store, behind: int | None, size: int) -> Iterator[Page]:
    """Members in pages, in member order, each page listed in its own short read (with
    ``behind``, only members whose state is at another rulebook version)."""
    after = 0
    while True:
        with store.read() as tx:
            page = tx.member_ids(after, size, behind)
        if not page:
            return
        yield page
        after = page[-1][0]


def run_pages(job: PageJob[R], pages: Iterable[Page], *, store: Store, workers: int
              ) -> Iterator[R]:
    """``job.run(page)`` for every page, in page order, on ``workers`` processes.

    One worker (or a store no other process can open) runs the job in this process:
    starting a process costs about half a second, worth it only for many pages.
    """
    opener = store.opener() if workers > 1 else None
    if opener is None:
        job.prepare()
        for page in pages:
            yield job.run(store, page)
        return
    yield from _Pool(opener, job, workers).run(pages)


class _Pool:
    def __init__(self, opener: Callable[[], Store], job: PageJob[Any], workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.tasks: multiprocessing.Queue[tuple[int, Page] | None] = ctx.Queue()
        self.results: multiprocessing.Queue[tuple[int, bool, Any]] = ctx.Queue()
        self.procs = [ctx.Process(target=_work, args=(opener, job, self.tasks, self.results),
                                  name=f"plaudit-fold-{i}", daemon=True)
                      for i in range(workers)]

    def run(self, pages: Iterable[Page]) -> Iterator[Any]:
        for p in self.procs:
            p.start()
        clean = False
        try:
            done: dict[int, Any] = {}
            sent = taken = 0
            source = iter(pages)
            more = True
            while True:
                while more and sent - taken < IN_FLIGHT * len(self.procs):
                    page = next(source, None)
                    if page is None:
                        more = False
                    else:
                        self.tasks.put((sent, page))
                        sent += 1
                if taken == sent:
                    break
                while taken not in done:
                    index, ok, value = self._next_result()
                    if not ok:
                        raise value if isinstance(value, PlauditError) else WorkerFailed(
                            f"a fold worker failed: {value}")
                    done[index] = value
                yield done.pop(taken)
                taken += 1
            clean = True
        finally:
            self._stop(clean)

    def _next_result(self) -> tuple[int, bool, Any]:
        while True:
            try:
                return self.results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                dead = [p for p in self.procs if p.exitcode is not None]
                if dead:
                    raise WorkerFailed.stopped(dead[0]) from None

    def _stop(self, clean: bool) -> None:
        if clean:
            for _ in self.procs:
                self.tasks.put(None)
            for p in self.procs:
                p.join(timeout=10)
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self.tasks.close()
        self.results.close()
        self.tasks.cancel_join_thread()
        self.results.cancel_join_thread()


def _work(opener: Callable[[], Store], job: PageJob[Any],
          tasks: multiprocessing.Queue[tuple[int, Page] | None],
          results: multiprocessing.Queue[tuple[int, bool, Any]]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller stops its workers
    store = None
    try:
        store = opener()
        job.prepare()
        while (task := tasks.get()) is not None:
            index, page = task
            try:
                results.put((index, True, job.run(store, page)))
            except PlauditError as e:  # raised in the caller as itself (errors pickle)
                results.put((index, False, e))
            except Exception:
                results.put((index, False, traceback.format_exc(limit=8)))
    except Exception:  # opening the store or preparing the job
        results.put((-1, False, traceback.format_exc(limit=8)))
    finally:
        if store is not None:
            store.close()


__all__ = ["IN_FLIGHT", "Page", "PageJob", "RulebookText", "WorkerFailed", "default_workers",
           "pages", "run_pages", "workers_for"]
