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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Solves with fewer samples than this run their BLAS calls on ``threads`` threads
#: (default one); the products of larger ones (Schur complements of order n) keep every
#: thread the caller allows.
SMALL_SAMPLES = 2048

_CONTROLLER: Any = None


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
            _CONTROLLER = ThreadpoolController()
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


__all__ = ["SMALL_SAMPLES", "blas_threads", "limit_blas", "worker_threads"]


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
