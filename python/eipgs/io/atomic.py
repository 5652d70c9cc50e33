# SPDX-License-Identifier: GPL-2.0-only
"""Honest output files: every writer of eipgs writes to a temporary name in the target folder and
renames it when the content is complete, so an interrupted run (Ctrl-C, a killed job, a full disk, an
exception half-way) leaves either the old file or no file, never a truncated file that looks finished.

The rename is :func:`os.replace`, atomic on POSIX file systems when source and target share a folder,
which is why the temporary file lives beside the target and not in ``/tmp``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_write", "atomic_path", "write_text_atomic", "write_bytes_atomic", "same_file"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that want a file name (ASE, pandas, matplotlib). ``keep_existing=True`` starts the
    temporary file as a copy of ``path`` (for appending). The permissions of a replaced file are kept;
    a new file gets the usual ``0o666 & ~umask``.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {target}: folder {folder} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {target}: it is a folder")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        # The temporary name means nothing to the user: report the file they asked for.
        raise type(exc)(exc.errno, f"cannot write {target}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if target.exists():
            if keep_existing:
                shutil.copyfile(target, tmp)
            shutil.copymode(target, tmp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        os.replace(tmp, target)
    except BaseException:  # KeyboardInterrupt included: the partial file must not survive
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = "") -> Iterator[IO]:
    """``open()`` for writing that only publishes ``path`` when the ``with`` block finishes.

    ``mode`` is ``"w"``, ``"wb"``, ``"a"`` or ``"ab"`` (append copies the existing file first).
    ``newline=""`` writes ``\\n`` as is on every platform, as MLIP's files have it.
    """
    if mode not in ("w", "wb", "a", "ab"):
        raise ValueError(f"atomic_write: mode must be w, wb, a or ab, not {mode!r}")
    binary = "b" in mode
    with atomic_path(path, keep_existing=mode.startswith("a")) as tmp:
        kwargs = {} if binary else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_text_atomic(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """``Path.write_text`` through :func:`atomic_write`."""
    with atomic_write(path, "w", encoding=encoding) as fh:
        fh.write(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """``Path.write_bytes`` through :func:`atomic_write`."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (links and relative paths resolved)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()
