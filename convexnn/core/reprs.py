"""Short ``repr`` strings of the result objects (a few lines each, whatever the data size).

The dataclasses' generated reprs print every array, program and history they hold (tens of
kilobytes for a small regularization path); these show the status, the objective and the
sizes, and name the attributes or methods that hold the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _g(x: Any, spec: str = ".6g") -> str:
    """A float formatted with ``spec``, or "None"/"nan" as is."""
    if x is None:
        return "None"
    try:
        return format(float(x), spec)
    except (TypeError, ValueError):
        return repr(x)


def certificate_verdict(cert: Any) -> str:
    """One phrase: the certificate's verdict and gap, e.g. "certified, rel. gap 1.2e-07"."""
    if cert is None:
        return "no certificate"
    word = "certified" if cert.certified else "refuted" if cert.refuted else "not certified"
    if cert.certified and getattr(cert, "method", "") == "gated":
        word = "certified over its gates"
    return f"{word}, rel. gap {_g(cert.relative_gap, '.2e')} ({cert.method})"


def fit_result(r: Any) -> str:
    """``FitResult(...)``: status, objectives, model, data and pattern sizes, certificate."""
    p = r.program.describe()
    kind = "exact" if r.exhaustive else p["source"]
    return (f"FitResult(status={r.status!r}, objective={_g(r.objective, '.10g')}, "
            f"network objective={_g(r.recovered_objective, '.10g')},\n"
            f"          model={p['model']!r}, loss={p['loss']!r}{p.get('variant', '')}, "
            f"beta={_g(p['beta'], 'g')}, n={p['n']}, d={p['d']}, "
            f"{p['columns_name']}={p['columns']} ({kind}), active neurons={r.n_active},\n"
            f"          solver={r.solution.solver!r}, certificate: "
            f"{certificate_verdict(r.certificate)}; .summary() for the report)")


def path_result(r: Any) -> str:
    """``PathResult(...)``: the beta range, objectives and certificates at a glance."""
    k = len(r.results)
    betas = np.asarray(r.betas, float)
    cert = [x.certificate for x in r.results]
    n_cert = sum(bool(c is not None and c.certified) for c in cert)
    status = sorted({x.status for x in r.results})
    first = r.results[0] if k else None
    model = (f"{first.program.describe()['model']}, {first.program.loss.name} loss, "
             if first else "")
    return (f"PathResult({k} betas from {_g(betas.max() if k else None, 'g')} to "
            f"{_g(betas.min() if k else None, 'g')}, {model}status {status},\n"
            f"           objectives {_g(np.min(r.objectives) if k else None)} .. "
            f"{_g(np.max(r.objectives) if k else None)}, active neurons "
            f"{_range(r.n_active)}, certified {n_cert}/{k}; .summary() for the table)")


def _range(a: Any) -> str:
    a = np.asarray(a)
    return "-" if a.size == 0 else f"{a.min()}..{a.max()}" if a.min() != a.max() else f"{a.min()}"


def certificate(c: Any) -> str:
    """``Certificate(...)``: bounds, gap, verdict and method."""
    return (f"Certificate({certificate_verdict(c)}, lower={_g(c.lower_bound, '.10g')}, "
            f"upper={_g(c.upper_bound, '.10g')}, s/beta={_g(c.s_found / c.beta)}, "
            f"{c.n_patterns_checked} patterns, {c.loss} loss; print() for details)")


def compare_result(r: Any) -> str:
    """``CompareResult(...)``: p*, the runs per (optimizer, width), the best run."""
    groups = r.groups()
    obj = np.array([x["objective"] for x in r.runs], float)
    kind = "exact" if r.optimum.exhaustive else "sampled: an upper bound"
    best = _g(np.nanmin(obj), ".8g") if obj.size and np.isfinite(obj).any() else "-"
    settings = ", ".join(f"{o} width {w}: {len(g)}" for (o, w), g in list(groups.items())[:6])
    more = ", ..." if len(groups) > 6 else ""
    return (f"CompareResult(p*={_g(r.optimum_value, '.8g')} ({kind}), {len(r.runs)} runs "
            f"[{settings}{more}],\n              best run objective {best}, "
            f"{_g(r.time, '.1f')} s; .table() for the table)")


def train_result(r: Any) -> str:
    """``TrainResult(...)``: optimizer, status, objective, gap and time."""
    gap = "" if r.gap is None else f", gap={_g(r.gap, '.3e')}"
    return (f"TrainResult({r.optimizer}, status={r.status!r}, objective={_g(r.objective, '.10g')}"
            f"{gap}, epochs={r.epochs}, lr={_g(r.lr, '.3g')}, batch_size={r.batch_size}, "
            f"grad_norm={_g(r.grad_norm, '.2e')}, time={_g(r.time, '.2f')} s, "
            f"network={r.network!r})")


__all__ = ["certificate", "certificate_verdict", "compare_result", "fit_result", "path_result",
           "train_result"]
