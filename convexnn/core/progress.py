"""Progress display for work that can take more than a few seconds (tqdm).

``progress=None`` (the default everywhere) shows a bar only when standard error is a
terminal; ``True`` forces it, ``False`` silences it.  The bar goes to standard error, so
printed results stay clean.
"""

from __future__ import annotations

import sys
from typing import Any


def wanted(progress: bool | None) -> bool:
    """Whether to show a bar: ``progress``, or (None) whether stderr is a terminal."""
    if progress is not None:
        return bool(progress)
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Bar:
    """A tqdm bar of ``total`` steps whose postfix shows named numbers; a no-op when
    disabled.  Use as a context manager."""

    def __init__(self, total: int | None, desc: str, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True,
                             file=sys.stderr)

    def update(self, n: int = 1, **postfix: Any) -> None:
        if self._bar is None:
            return
        if postfix:
            self._bar.set_postfix({k: (f"{v:.6g}" if isinstance(v, float) else v)
                                   for k, v in postfix.items()}, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar(total: int | None, desc: str, progress: bool | None) -> Bar:
    """A :class:`Bar` shown when :func:`wanted` says so."""
    return Bar(total, desc, wanted(progress))


__all__ = ["Bar", "bar", "wanted"]
