"""The loader's worker processes, whose lives end with the process that loads, however it ends.

A large source is parsed by worker processes (staging.run_tasks). They fork
from multiprocessing's fork server, a clean process of its own, never from the
loading process with its threads and its database connection; multiprocessing
also starts a resource tracker. None of them may outlive the loading process.
A kill -9 (what the kernel's OOM killer sends) gives that process no chance
to stop them, and the fork server lives as long as a worker does
(multiprocessing's design): left alone, they would all run forever, holding
the pipe that ``etl.py | cat`` reads, which then never ends. So:

- Each worker watches a lifeline: a pipe whose only writing end the loading
  process holds. The kernel closes it when that process dies, however it
  dies, and the worker exits at once. That holds on every platform.
- On Linux a worker also asks for SIGKILL when its parent, the fork server,
  dies (prctl PR_SET_PDEATHSIG): killing the fork server stops the workers.
- The fork server exits by itself once no worker and no loading process is
  left, and the resource tracker once no process holds its pipe: within a
  second of the loading process, all of them are gone.
- None of them keeps the caller's standard output: the fork server, the
  resource tracker and the workers print nothing there, and theirs is
  /dev/null. The resource tracker's standard error too (all it could say is
  that a killed load left semaphores, which it removes); the workers keep the
  caller's standard error for a Python error, which would be a bug.
"""

import contextlib
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PRELOADED = "sparkify.engines.local_loader.staging"  # what the fork server imports once, for every worker
PR_SET_PDEATHSIG = 1


@contextlib.contextmanager
def worker_pool(workers: int):
    """A ProcessPoolExecutor of ``workers`` processes tied to this one; shut down when the block ends."""
    context = _context()
    _start_helpers(context)
    lifeline_end, lifeline = context.Pipe(duplex=False)  # this process holds the only writing end
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start, initargs=(lifeline_end,))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        lifeline.close()
        lifeline_end.close()


def _context():
    """Workers fork from a clean server process, never from this one with its threads and connection."""
    try:
        context = get_context("forkserver")
    except ValueError:  # no fork server on this platform: each worker is spawned afresh
        return get_context("spawn")
    context.set_forkserver_preload([PRELOADED])
    return context


def _start_helpers(context):
    """Start multiprocessing's resource tracker and fork server (if not running yet) with standard output,
    and the tracker's standard error, on /dev/null: they inherit this process's descriptors 0 to 2."""
    from multiprocessing import resource_tracker

    helpers = [(resource_tracker.ensure_running, (1, 2))]
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        helpers.append((forkserver.ensure_running, (1,)))
    with contextlib.suppress(OSError):
        for start, descriptors in helpers:
            with _to_null(descriptors):
                start()


@contextlib.contextmanager
def _to_null(descriptors):
    """``descriptors`` of this process on /dev/null for the block, then back (for a child to inherit)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    saved = []
    try:
        for descriptor in descriptors:
            saved.append((descriptor, os.dup(descriptor)))
            os.dup2(null, descriptor)
        yield
    finally:
        for descriptor, copy in saved:
            os.dup2(copy, descriptor)
            os.close(copy)
        os.close(null)


def _worker_start(lifeline_end):
    # Ctrl-C, SIGTERM and SIGHUP are for the loading process: it cancels the COPY and shuts the pool down
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # a spawned worker has the caller's standard output: it prints nothing there
        os.close(null)
    _die_with_parent()
    threading.Thread(target=_exit_when_cut, args=(lifeline_end,), name="lifeline", daemon=True).start()


def _exit_when_cut(lifeline_end):
    """Wait for the end of the lifeline: the loading process closed it, or died. Then exit, now."""
    with contextlib.suppress(Exception):
        lifeline_end.poll(None)  # nothing is ever sent: this returns at the end of the pipe
    os._exit(1)


def _die_with_parent():
    """Linux: SIGKILL when the parent, the fork server, dies."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
