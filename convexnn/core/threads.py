"""Thread limits for BLAS pools during small solves and in parallel workers.

numpy and scipy each bundle an OpenBLAS whose worker threads busy-wait between calls.  When
the machine is loaded (more runnable threads than cores), a multithreaded BLAS call must wait
until *every* one of its threads is scheduled again, so each call of a few hundred
microseconds can cost a scheduler time slice.  Measured on 2 shared cores at load average
4.5 (``dsyrk`` of a 40 x 4683 matrix, the working-set solver's Schur product at n = 40):
0.4 ms on one thread, 152 ms median on two.  Problems with few samples gain nothing from
BLAS threads, so the solvers cap them (:func:`limit_blas`); gradient-training workers of
:func:`convexnn.compare` run with one BLAS and one torch thread each.

The pools are found once (``threadpoolctl.ThreadpoolController``, about 10 ms) and cached;
each limit then costs tens of microseconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: Solves with fewer samples than this run their BLAS calls on ``threads`` threads
#: (default one); the products of larger ones (Schur complements of order n) keep every
#: thread the caller allows.
SMALL_SAMPLES = 2048

#: A dense product of at least this many flops inside :func:`wide_products` may use the
#: process's own BLAS threads (its pool size before any cap): the Schur complement of the
#: working-set solver, ``syrk`` of 442 x 2200 (2.1e8 flops), takes 10.1 ms on one thread
#: and 6.1 ms on two on an idle 2-core machine.  The choice depends on the size alone,
#: never on the machine's load: LAPACK's ``dpotrf`` rounds differently on one and on two
#: threads (442 x 442: entries differ by 1.4e-14), so a load-dependent choice changed the
#: interior-point iterates and, through pattern generation, the answer.
WIDE_FLOPS = 5e7
#: ... and only on a machine with at least this many cores (a fixed property of the
#: machine, not its load): on 2 cores any other busy process collides with a two-thread
#: BLAS call (the syrk above: 15 ms median, 48 ms worst on two threads against 10 ms on
#: one; a diabetes generation master of 514 patterns, load average 4-5: 33-37 s with the
#: Schur products on two threads, 13-16 s on one).
WIDE_MIN_CORES = 4
_CONTROLLER: Any = None
#: BLAS threads of the process before convexnn capped any pool (read once, with the
#: controller).
_OWN_THREADS = 1
_WIDE: ContextVar[bool] = ContextVar("convexnn_wide_products", default=False)


def _controller():
    """The process's cached ``ThreadpoolController`` (None without threadpoolctl)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            import scipy.linalg.blas  # noqa: F401  (load scipy's BLAS before scanning)
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _CONTROLLER = False
        else:
            global _OWN_THREADS
            _CONTROLLER = ThreadpoolController()
            counts = [lib.num_threads for lib in _CONTROLLER.select(user_api="blas").lib_controllers]
            _OWN_THREADS = max(counts, default=1)
    return _CONTROLLER or None


def blas_threads() -> dict[str, int]:
    """Current thread count of every loaded BLAS pool, by library path."""
    ctl = _controller()
    if ctl is None:
        return {}
    return {lib.filepath: lib.num_threads for lib in ctl.select(user_api="blas").lib_controllers}


@contextmanager
def limit_blas(threads: int | None = 1, *, n_samples: int | None = None) -> Iterator[None]:
    """Cap every BLAS pool at ``threads`` inside the block (restored on exit).

    No cap when ``threads`` is None or 0, or when ``n_samples >= SMALL_SAMPLES`` (large
    products, where BLAS threads pay off).
    """
    ctl = None if not threads or (n_samples is not None and n_samples >= SMALL_SAMPLES) \
        else _controller()
    if ctl is None:
        yield
        return
    with ctl.limit(limits=int(threads), user_api="blas"):
        yield


def worker_threads(threads: int = 1) -> None:
    """Give this (worker) process ``threads`` torch intra-op threads and BLAS threads, for
    the whole process: call it only inside a joblib worker, never in the caller's process."""
    ctl = _controller()
    if ctl is not None:
        ctl.select(user_api="blas").limit(limits=threads)  # type: ignore[attr-defined]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(threads)


__all__ = ["SMALL_SAMPLES", "WIDE_FLOPS", "WIDE_MIN_CORES", "allow_wide_products",
           "blas_threads", "limit_blas", "machine_cores", "solve_threads", "wide_products",
           "worker_threads"]


@contextmanager
def limit_torch(threads: int | None = 1, *, n_samples: int | None = None) -> Iterator[None]:
    """Set torch's intra-op threads to ``threads`` inside the block (restored on exit), with
    the same rule as :func:`limit_blas`: small problems only.  Measured on 2 shared cores
    at load average 3 (batched cone projections of 400 patterns, n = 442): 0.36-0.47 s on
    one thread, 2.1-6.7 s on two."""
    if not threads or (n_samples is not None and n_samples >= SMALL_SAMPLES):
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def small_problem_threads(n_samples: int) -> Iterator[None]:
    """One BLAS thread and one torch thread for a problem with fewer than
    :data:`SMALL_SAMPLES` samples (:func:`limit_blas`, :func:`limit_torch`)."""
    with limit_blas(1, n_samples=n_samples), limit_torch(1, n_samples=n_samples):
        yield


def solve_threads(num_threads: int | str | None) -> int | None:
    """The cap a ``num_threads`` setting puts on the pools: one for "auto" (whose large
    products widen through :func:`wide_products`), None for no cap, else the count."""
    return 1 if num_threads == "auto" else num_threads


def machine_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@contextmanager
def allow_wide_products(allow: bool = True) -> Iterator[None]:
    """Inside the block, :func:`wide_products` may lift a BLAS cap (the working-set
    solver's ``num_threads="auto"``)."""
    token = _WIDE.set(allow)
    try:
        yield
    finally:
        _WIDE.reset(token)


@contextmanager
def wide_products(flops: float) -> Iterator[None]:
    """Every BLAS thread the process had (:data:`_OWN_THREADS`) for a dense product of at
    least :data:`WIDE_FLOPS` flops, where :func:`allow_wide_products` allows it and the
    machine has :data:`WIDE_MIN_CORES` cores; the current cap otherwise.  The product's
    size and the machine decide, never its load (the thread count changes LAPACK's
    roundoff, so the same input must get the same count)."""
    ctl = _controller() if _WIDE.get() and flops >= WIDE_FLOPS else None
    if ctl is None or _OWN_THREADS <= 1 or machine_cores() < WIDE_MIN_CORES:
        yield
        return
    with ctl.limit(limits=_OWN_THREADS, user_api="blas"):
        yield
