"""The ``convexnn`` command: :func:`main` (:mod:`~convexnn.cli.command`; its arguments in
:mod:`~convexnn.cli.args`)."""

from .command import main

__all__ = ["main"]
