"""Where batch clips run: local worker processes, or a Dask distributed cluster.

Both engines take `batch_worker.ClipTask`s and yield ``(task, outcome)`` as clips
finish (any order; the caller sorts).  The work function is the same,
`batch_worker.score_clip`, so a cluster run gives the same table as a local one.

Closing the generator (Ctrl-C in the caller, or an error) stops the work:
local worker processes are terminated, cluster futures are cancelled.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator

from .batch_worker import ClipOutcome, ClipTask, error_outcome, init_worker, score_clip


def default_workers() -> int:
    """Usable cores (respects CPU affinity / container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class EngineError(RuntimeError):
    """The engine cannot run at all (bad address, dask not installed); one line for the user."""


def run(tasks: list[ClipTask], engine: str = "local", workers: int | None = None,
        address: str | None = None, on_progress=None) -> Iterator[tuple[ClipTask, ClipOutcome]]:
    """``on_progress(index, frames_done, frames_total)`` (local engine): workers' frame counts, and
    ``on_progress(None)`` about twice a second so a progress display can tick."""
    if engine == "dask" or address:
        return run_dask(tasks, address, workers)
    if engine != "local":
        raise EngineError(f"unknown engine {engine!r} (use 'local' or 'dask')")
    return run_local(tasks, workers or default_workers(), on_progress)


# --------------------------------------------------------------------------- local processes

def _terminate(ex: ProcessPoolExecutor) -> None:
    """Stop a pool now, killing busy workers (shutdown() alone would wait for their clip to end)."""
    procs = list(getattr(ex, "_processes", {}).values())  # private, but the only handle to the workers
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


def _drain(q, on_progress) -> None:
    while True:
        try:
            index, done, total = q.get_nowait()
        except (queue_mod.Empty, OSError, EOFError, ValueError):
            break
        on_progress(index, done, total)
    on_progress(None)


def run_local(tasks: list[ClipTask], workers: int, on_progress=None) -> Iterator[tuple[ClipTask, ClipOutcome]]:
    """A pool of ``workers`` spawned processes, at most ``workers`` clips in flight.

    Keeping the in-flight set small means that when a worker dies (segfault, OOM
    kill), the suspects are few: they are re-run one at a time, and a clip that
    kills its worker again gets an ``error: worker process died`` row, while the
    rest of the batch goes on.
    """
    ctx = mp.get_context("spawn")   # fork + MediaPipe/OpenCV threads is unsafe
    progress_q = ctx.Queue() if on_progress else None
    queue = list(tasks)
    suspects: list[ClipTask] = []
    while queue or suspects:
        ex = ProcessPoolExecutor(max_workers=min(workers, len(queue) + len(suspects)), mp_context=ctx,
                                 initializer=init_worker, initargs=(1, progress_q))
        running: dict[Future, ClipTask] = {}
        broken = False
        try:
            while (queue or suspects or running) and not broken:
                # Suspects from a crashed pool run alone, so a second crash names the culprit.
                limit = 1 if suspects else workers
                while len(running) < limit and (suspects or queue):
                    t = suspects.pop(0) if suspects else queue.pop(0)
                    running[ex.submit(score_clip, t)] = t
                # a timeout even without progress: the main thread wakes to take Ctrl-C promptly
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                if progress_q is not None:
                    _drain(progress_q, on_progress)
                for f in done:
                    t = running.pop(f)
                    try:
                        yield t, f.result()
                    except BrokenProcessPool:
                        broken = True
                        running[f] = t   # handled with the others below
            if broken:
                for f, t in running.items():
                    if f.done() and not f.exception():
                        yield t, f.result()
                        continue
                    if t.attempt >= 1:
                        yield t, error_outcome(t, "worker process died while analysing this clip")
                    else:
                        t.attempt += 1
                        suspects.append(t)
                suspects.sort(key=lambda t: t.index)
        finally:
            _terminate(ex)


# --------------------------------------------------------------------------- Dask distributed

def run_dask(tasks: list[ClipTask], address: str | None, workers: int | None) -> Iterator[tuple[ClipTask, ClipOutcome]]:
    """Send the clips to a Dask scheduler at ``address`` (or a throw-away local cluster).

    Workers must see the input paths (shared or identical file system) and have
    pelvis_tilt installed; results (files included) come back to this process,
    which alone writes the output folder.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise EngineError("the dask engine needs dask[distributed]: pip install 'pelvis_tilt[cluster]'") from None
    cluster = None
    try:
        if address:
            client = Client(address, timeout="5s")
        else:
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise EngineError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    futures = {}
    run_id = uuid.uuid4().hex[:8]   # keys must not collide with an earlier run's on the same scheduler
    try:
        for t in tasks:
            # pure=False: a rerun of the same clip must really run; the key names the clip in the dashboard.
            f = client.submit(score_clip, t, pure=False, key=f"pelvis-{t.key}-{run_id}")
            futures[f] = t
        for f in as_completed(futures):
            t = futures[f]
            try:
                yield t, f.result()
            except Exception as exc:   # KilledWorker, lost connection: this clip only
                yield t, error_outcome(t, f"cluster: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        try:
            client.cancel(list(futures))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
