"""Where work runs: this machine's processes, or Ray Data (a local Ray, or a cluster), for batches of
videos or stories; threads, in order, for the shots of one video (:func:`ordered_threads`).

Shared by the annotate and generate batches (:mod:`avshooter.annotation.batch`,
:mod:`avshooter.generation.batch`), which own what an item is and what is done with its result; this
module only moves items to workers and results back. Workers get paths, never audio.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator

from .errors import BackendError

__all__ = ["progress", "run_local", "run_ray", "quiet_ray_data", "ordered_threads", "default_threads", "blas_threads"]


def run_local(items: list, fn: Callable, *args, workers: int = 1, on_dead: Callable | None = None) -> Iterator:
    """``fn(item, *args)`` for every item, in this process (``workers == 1``) or in ``workers`` spawned
    processes; results are yielded as they finish. ``fn`` must not raise (it reports failures itself).

    A worker process that dies (killed, out of memory) breaks its pool. The items it may have been
    running (the first ``workers + 1`` unfinished ones: a pool starts its items in order) then run each in
    a process of its own, so the one that kills its worker is found; its result is ``on_dead(item)``
    (default: re-raise the ``BrokenProcessPool``). The items never started go to a fresh pool.
    """
    if workers == 1 or len(items) <= 1:
        for item in items:
            yield fn(item, *args)
        return
    from concurrent.futures.process import BrokenProcessPool

    left = list(enumerate(items))
    while left:
        unfinished = []
        for (k, item), result in _in_pool(left, fn, args, min(workers, len(left))):
            if result is _BROKEN:
                unfinished.append((k, item))
            else:
                yield result
        unfinished.sort(key=lambda pair: pair[0])
        suspects, left = unfinished[:workers + 1], unfinished[workers + 1:]
        for pair in suspects:
            (_, result), = _in_pool([pair], fn, args, 1)
            if result is not _BROKEN:
                yield result
            elif on_dead is None:
                raise BrokenProcessPool(f"a worker process died while running {pair[1]!r}")
            else:
                yield on_dead(pair[1])


_BROKEN = object()


def _in_pool(pairs: list, fn: Callable, args: tuple, workers: int) -> Iterator[tuple]:
    """``((k, item), fn(item, *args))`` from a pool of spawned processes, as they finish;
    ``((k, item), _BROKEN)`` for every item not finished when a worker died."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(fn, item, *args): (k, item) for k, item in pairs}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except BrokenProcessPool:
                result = _BROKEN
            yield futures[fut], result


def default_threads(limit: int = 4) -> int:
    """Threads for the items of ONE job (one video's shots): the CPUs this process may use, at most ``limit``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(limit, cpus))


@contextlib.contextmanager
def blas_threads(limit: int | None):
    """Cap the BLAS libraries' own thread pools (OpenBLAS under numpy/scipy) at ``limit`` (None: no cap).

    Work already spread over threads gains nothing from BLAS threads of its own, and idle BLAS threads
    spin: measured on the 2-core machine, shots on 2 threads with 2 BLAS threads each cost ~20 % more CPU
    (benchmarks/README.md).
    """
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def ordered_threads(fn: Callable, items: list, *, threads: int, initializer: Callable | None = None) -> Iterator:
    """``fn(item)`` for every item on ``threads`` threads, yielded IN ORDER as each is done.

    For work that spends its time in code that releases the GIL (numpy, scipy, onnxruntime, libsndfile,
    torch). At most ``threads + 1`` items are in flight, so memory stays that of a few items. The first
    exception is raised when its item's turn comes; items not started are cancelled and the running ones
    finish first (nothing is left half done). Closing the iterator early does the same. ``initializer``
    runs once in each worker thread before its first item (not with one thread: there the caller's thread
    runs the items).
    """
    if threads <= 1 or len(items) <= 1:
        for item in items:
            yield fn(item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="avshooter", initializer=initializer)
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def yield_cpu(steps: int = 10) -> None:
    """Lower the CALLING thread's scheduling priority by ``steps`` nice levels (Linux; elsewhere nothing).

    For worker threads whose work is not on the critical path: a thread that others wait for (annotate's
    ASR, which the shots wait on for their words) then gets a core first whenever both want one, and the
    workers fill the time it leaves. Linux applies ``setpriority(PRIO_PROCESS, tid)`` to that one thread;
    it cannot be raised back without privileges, so call it only in threads that end with their work.
    """
    if not sys.platform.startswith("linux"):
        return
    import threading

    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:  # not allowed here: run at the normal priority
        pass


def run_ray(rows: list[dict], fn, *, workers: int, gpus: int = 0, address: str | None = None,
            constructor_kwargs: dict | None = None) -> Iterator[dict]:
    """Map ``fn`` over ``rows`` (plain dicts of paths and names) with Ray Data; yield the result rows.

    ``fn`` is a function, or a class (an actor pool: its constructor loads models once per worker, with
    ``constructor_kwargs``). Ray is started here when it is not running: the cluster at ``address`` (or
    ``$RAY_ADDRESS``), else a local Ray with ``workers`` CPUs. ``gpus``: GPUs per task or actor.
    """
    if not rows:
        return
    try:
        import ray
    except ImportError:
        raise BackendError("--engine ray needs Ray Data: pip install 'avshooter[ray]'") from None
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        kwargs = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
    quiet_ray_data()
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    size = min(workers, len(rows))
    if isinstance(fn, type):
        extra = {"fn_constructor_kwargs": constructor_kwargs or {}, "compute": ray.data.ActorPoolStrategy(size=size)}
    else:
        extra = {"compute": ray.data.TaskPoolStrategy(size=size)}
    mapped = dataset.map(fn, num_cpus=1, num_gpus=gpus, **extra)
    yield from mapped.iter_rows()


def quiet_ray_data() -> None:
    """Ray Data's own progress bars and progress logs off, its INFO logs to its log files only.

    The batches show their own progress bar (:func:`progress`, off with ``--no-progress``); Ray Data's
    would print a second one, or, when stderr is not a terminal, a block of "Total Progress" log lines
    per update. Warnings and errors still reach the terminal; Ray's full logs stay in its session folder.
    """
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # its one warning is "Progress bars disabled": what we asked for, not news for the user
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


def progress(total: int, enabled: bool, *, unit: str, desc: str):
    """A tqdm progress bar (disabled: a silent one with the same methods)."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=not enabled, desc=desc)
