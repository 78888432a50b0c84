"""Reading network files (``.npz`` with a JSON header) so that a damaged, truncated or
foreign file raises :class:`~convexnn.exceptions.NetworkFileError` naming the file, what is
wrong and what to do -- never a numpy, zipfile or json exception.

The whole file is read into memory first (no file handle left open), arrays are loaded
with ``allow_pickle=False``, and every array is checked to be numeric.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import NetworkFileError

#: Version of the header layout written by this release (files without one are version 1).
FORMAT_VERSION = 2
_ZIP_MAGIC = b"PK\x03\x04"
_FIX = "re-save the network with .save(), or check that the file was copied completely"


def file_error(path: Any, what: str, fix: str = _FIX) -> NetworkFileError:
    """The error for ``path``: ``"<path>: <what>; <fix>"``."""
    return NetworkFileError(f"cannot load {str(path)!r}: {what}; {fix}")


def read_network_file(path: str | Path, kind: str, formats: tuple[str, ...],
                      required: tuple[str, ...]) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of a file written by ``kind.save`` whose header ``format`` is in
    ``formats``; raise NetworkFileError unless every name in ``required`` is an array."""
    path = Path(path)
    if path.is_dir():
        raise file_error(path, "it is a directory", f"pass the .npz file written by {kind}.save()")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise file_error(path, f"it cannot be read ({e.strerror or e})", "check the path and "
                         "its permissions") from None
    if not data:
        raise file_error(path, "the file is empty (0 bytes)")
    if not data.startswith(_ZIP_MAGIC):
        looks = "text" if _is_text(data[:512]) else "binary data"
        raise file_error(path, f"it is not a .npz archive (it starts with {looks}, not the "
                         f"zip signature); {kind}.save() writes .npz files")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            names = list(f.files)
            if "header" not in names:
                raise file_error(path, f"it has no convexnn header (arrays {names[:6]}); it was "
                                 f"not written by {kind}.save()")
            raw = {name: f[name] for name in names}
    except NetworkFileError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise file_error(path, "it holds Python objects, which convexnn never writes and "
                             "will not execute") from None
        raise file_error(path, f"an array is damaged ({_short(e)})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, RuntimeError, ArithmeticError) as e:
        raise file_error(path, f"the archive is damaged or truncated ({type(e).__name__}: "
                         f"{_short(e)})") from None
    header = _parse_header(path, raw.pop("header"), kind, formats)
    for name, arr in raw.items():
        if arr.dtype.kind not in "biuf":
            raise file_error(path, f"array {name!r} is not numeric (dtype {arr.dtype})")
        if not np.all(np.isfinite(arr)):
            raise file_error(path, f"array {name!r} contains NaN or infinite values")
    missing = [k for k in required if k not in raw]
    if missing:
        raise file_error(path, f"array(s) {', '.join(map(repr, missing))} are missing")
    return header, raw


def _parse_header(path: Path, raw: np.ndarray, kind: str, formats: tuple[str, ...]) -> dict:
    if raw.dtype.kind not in "US" or raw.size != 1:
        raise file_error(path, f"its header is not a JSON string (dtype {raw.dtype}, shape "
                         f"{raw.shape})")
    try:
        header = json.loads(str(raw.reshape(())))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise file_error(path, f"its header is not valid JSON ({e.msg if hasattr(e, 'msg') else e})") from None
    if not isinstance(header, dict):
        raise file_error(path, f"its header is a JSON {type(header).__name__}, not an object")
    fmt = header.get("format")
    if fmt not in formats:
        raise file_error(path, f"it is not a convexnn {kind} file (format {fmt!r}; expected "
                         f"{formats[0]!r})", "load it with the class that saved it")
    version = header.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise file_error(path, f"it was written in format version {version!r}, newer than this "
                         f"convexnn reads ({FORMAT_VERSION})", "upgrade convexnn")
    return header


def header_field(path: Any, header: dict, key: str, types: type | tuple, default: Any = ...):
    """``header[key]`` checked to be of ``types`` (``default`` when absent, if given)."""
    if key not in header:
        if default is ...:
            raise file_error(path, f"its header has no {key!r} entry")
        return default
    value = header[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
        raise file_error(path, f"header entry {key!r} has the wrong type "
                         f"({type(value).__name__})")
    return value


def _tuple(t) -> tuple:
    return t if isinstance(t, tuple) else (t,)


def _is_text(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _short(e: Exception) -> str:
    s = str(e) or type(e).__name__
    return s if len(s) < 120 else s[:117] + "..."
