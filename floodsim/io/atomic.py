"""Write files so that a crash never leaves something that looks complete.

Every output is written to a temporary name in the same folder and renamed into place only after it
has been written and closed (``os.replace`` is atomic on one file system). A whole folder (a run) is
written beside its destination and put in place by :func:`replace_dir`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror}. Choose a writable output "
                          "folder (--out).") from None
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():
            # mkstemp creates 0600; give the result the mode a normal open() would (0666 & ~umask),
            # so published maps and rasters are readable by others where the umask allows
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------------------------------- folders
def fsync_tree(path: str | os.PathLike) -> None:
    """``fsync`` every file and folder under ``path`` (and ``path``), so a renamed folder survives a crash."""
    path = Path(path)
    for root, _dirs, names in os.walk(path):
        for name in names:
            p = os.path.join(root, name)
            if os.path.islink(p):
                continue
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def fsync_dir(path: str | os.PathLike) -> None:
    """``fsync`` a folder (its entries: names created or renamed in it); a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass    # some file systems (and Windows) cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


def tree_size(path: str | os.PathLike) -> int:
    """Bytes held by the files under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def exchange_paths(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the platform, the C library or the file system cannot (then nothing was
    changed); raises OSError for any other failure.
    """
    import sys

    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):          # glibc < 2.28, musl without it
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
        return False
    raise OSError(err, os.strerror(err), os.fspath(a), None, os.fspath(b))


def replace_dir(new: str | os.PathLike, dest: str | os.PathLike, aside: str | os.PathLike) -> Path | None:
    """Put the folder ``new`` in place of ``dest``; return where the former ``dest`` now is (or None).

    When ``dest`` does not exist, ``new`` is renamed to it. Otherwise the two are exchanged atomically
    where the system can (:func:`exchange_paths`: the former ``dest`` is then at ``new``), else
    ``dest`` is renamed to ``aside`` and ``new`` to ``dest`` (if the second rename fails or is
    interrupted, ``aside`` is renamed back, so ``dest`` always holds one of the two). The caller
    deletes the returned folder.
    """
    new, dest, aside = Path(new), Path(dest), Path(aside)
    if not os.path.lexists(dest):
        os.rename(new, dest)
        fsync_dir(dest.parent)
        return None
    if exchange_paths(new, dest):
        fsync_dir(dest.parent)
        return new
    try:
        os.rename(dest, aside)
        os.rename(new, dest)
    except BaseException:
        if not os.path.lexists(dest) and os.path.lexists(aside):
            os.rename(aside, dest)
        raise
    fsync_dir(dest.parent)
    return aside
