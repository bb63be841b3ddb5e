"""Depth frames on disk: a run's frames are written as it goes and read back one at a time.

A city run has 25 M cells: one float32 depth frame is 95 MB, so frames held in memory made a run's
memory grow with every output time. Instead :class:`FrameStore` appends each frame to a scratch
NetCDF-4 file (unlimited ``time``, chunks of one frame × :data:`~floodsim.io.raster.NETCDF_CHUNK` ²
cells, zlib level 1) and gives them back as a lazy dask array (a chunk per frame and
:data:`~floodsim.io.raster.LAZY_ROWS` rows), so writing ``results.nc`` and every product that needs
the frames read them a block of rows at a time.

The scratch file lives in a folder of its own, ``<head><host>-<pid>-<random>``: beside the run
folder (``<out>.floodsim-frames-…``, same file system) when the runner knows it, else in the system
temp. The folder is removed by :meth:`FrameStore.close`, when the store is garbage-collected (no
dataset reads it any more) or at interpreter exit; folders of processes of this host that are gone
(killed) are removed by the next store created in the same place (:func:`clear_stale_scratch`).
Never in the run folder itself: that is written whole or not at all (:mod:`floodsim.run.runner`).

netCDF/HDF5 are not thread-safe: every access here holds xarray's netCDF4 lock, the one xarray holds
when it writes ``results.nc`` from dask threads (:func:`_hdf5`). Reads open the file for each frame (a
handle kept open across reads broke later opens of the same file once xarray had opened and closed it).
A store's finalizer closes its file only if it can take the lock at once: a garbage collection may run
it in any thread, while another thread is inside HDF5 (closing there crashed the process) or in the
thread that holds the lock. Otherwise the handle waits in :data:`_PENDING` for the next holder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .runfolder import pid_alive, process_tag

try:   # the lock xarray's netCDF4 backend holds for every netCDF-C/HDF5 call
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK as _LOCK
except ImportError:  # pragma: no cover - another xarray layout
    _LOCK = threading.Lock()

#: Name of the variable in a frames file (the same as in results.nc).
VARIABLE = "depth"
#: Prefix of a scratch folder in the system temp (``<head><host>-<pid>-<random>``).
TEMP_HEAD = "floodsim-frames-"
#: zlib level of the scratch file (written once, read once: speed over size).
SCRATCH_COMPLEVEL = 1


def _chunk(n: int) -> int:
    from .raster import NETCDF_CHUNK

    return max(1, min(NETCDF_CHUNK, n))


def clear_stale_scratch(folder: Path, head: str) -> None:
    """Remove the scratch folders ``<head><host>-<pid>-<random>`` in ``folder`` that processes of this
    host which are gone (killed) left behind."""
    host = process_tag().rpartition("-")[0]
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for p in entries:
        if not p.name.startswith(head) or not p.is_dir():
            continue
        tag = p.name[len(head):].rpartition("-")[0]            # <host>-<pid>
        h, _, pid = tag.rpartition("-")
        if h == host and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


#: Append handles (with their scratch folders) whose store was finalized while the lock was taken: the
#: next holder of the lock closes them (:func:`_hdf5`), or the interpreter's exit.
_PENDING: list[tuple[object, Path]] = []


def _try_acquire(lock) -> bool:
    """Take ``lock`` without waiting; a combined lock (xarray's, ``.locks``) wholly or not at all.

    (Older xarray's ``CombinedLock.acquire(blocking=False)`` kept the parts it had taken on a failure.)
    """
    parts = getattr(lock, "locks", None)
    if parts is None:
        return bool(lock.acquire(blocking=False))
    held = []
    for part in parts:
        if not _try_acquire(part):
            for taken in reversed(held):
                taken.release()
            return False
        held.append(part)
    return True


def _close_pending() -> None:
    """Close the handles finalized while the lock was taken; call with the lock held."""
    while _PENDING:
        nc, folder = _PENDING.pop()
        with contextlib.suppress(Exception):   # closing a file already broken: nothing left to save
            nc.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _hdf5():
    """Hold the netCDF/HDF5 lock, first closing the handles left in :data:`_PENDING`."""
    with _LOCK:
        _close_pending()
        yield


def _close_pending_if_free() -> bool:
    """Close the handles in :data:`_PENDING` if the lock is free at once; whether it was."""
    if not _try_acquire(_LOCK):
        return False
    try:
        _close_pending()
    finally:
        _LOCK.release()
    return True


def _release(handle: dict, folder: Path) -> None:
    """Finalizer of a :class:`FrameStore`: close its file (if still open for appending) and remove its
    folder.

    A garbage collection runs this in whatever thread it happens in: maybe while another thread is
    inside HDF5, maybe in the thread that holds the lock (which is not re-entrant). So the handle joins
    :data:`_PENDING` and is closed here only if the lock is free at once; otherwise the next holder of
    the lock closes it. :meth:`FrameStore.close`, and every read, close the file under the lock first.
    """
    nc = handle.pop("nc", None)
    if nc is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    _PENDING.append((nc, folder))
    _close_pending_if_free()


@atexit.register
def _close_pending_at_exit(wait_s: float = 10.0) -> None:
    """At exit, close the handles still pending (waiting up to ``wait_s`` seconds for the lock)."""
    deadline = time.monotonic() + wait_s
    while _PENDING and not _close_pending_if_free() and time.monotonic() < deadline:
        time.sleep(0.01)


class _Frames:
    """The array dask reads: ``n`` frames of a reader (one ``__getitem__`` per chunk)."""

    def __init__(self, reader, n: int, shape: tuple[int, int]):
        self.reader = reader
        self.shape = (int(n), *shape)
        self.dtype = np.dtype(np.float32)
        self.ndim = 3

    def __getitem__(self, key):
        return self.reader.read(key)


def _lazy(reader, n: int, shape: tuple[int, int]):
    import dask.array as da

    from .raster import LAZY_ROWS

    chunks = (1, min(LAZY_ROWS, shape[0]), shape[1])
    return da.from_array(_Frames(reader, n, shape), chunks=chunks, name=f"depth-frames-{uuid.uuid4().hex}",
                         meta=np.empty((0, 0, 0), np.float32), asarray=True, fancy=False)


def _read(path: Path, var: str, key) -> np.ndarray:
    """``var[key]`` of NetCDF file ``path``, opened for this read only; call with the lock held.

    (A handle kept open across reads broke later opens of the same file once xarray had opened and
    closed it in between: "NetCDF: HDF error", then a segfault. An open per frame costs a millisecond.)
    """
    import netCDF4

    with netCDF4.Dataset(path, "r") as nc:
        nc.set_auto_mask(False)
        return np.asarray(nc[var][key], dtype=np.float32)


class FrameReader:
    """Read frames of variable ``var`` from a NetCDF file (opened for each read)."""

    def __init__(self, path, var: str = VARIABLE):
        self.path, self.var = Path(path), var

    def read(self, key) -> np.ndarray:
        with _hdf5():
            return _read(self.path, self.var, key)

    def count(self) -> int:
        import netCDF4

        with _hdf5(), netCDF4.Dataset(self.path, "r") as nc:
            return int(nc[self.var].shape[0])


def lazy_frames(path, var: str = VARIABLE):
    """The frames of ``var`` (time, y, x) in NetCDF file ``path`` as a lazy dask array, a chunk per frame and
    :data:`~floodsim.io.raster.LAZY_ROWS` rows."""
    import netCDF4

    reader = FrameReader(path, var)
    with _hdf5(), netCDF4.Dataset(reader.path, "r") as nc:
        n, ny, nx = nc[var].shape
    return _lazy(reader, n, (ny, nx))


class FrameStore:
    """Depth frames (float32, ``shape``) appended to a scratch NetCDF-4 file as a run records them.

    Parameters
    ----------
    shape : (ny, nx)
        Frame shape.
    folder : str or Path, optional
        Where the scratch folder is made (default: the system temp).
    head : str
        Prefix of the scratch folder's name (default :data:`TEMP_HEAD`).

    Examples
    --------
    >>> import numpy as np
    >>> store = FrameStore((3, 4))
    >>> store.append(np.ones((3, 4), np.float32))
    >>> store.lazy().shape, store.count
    ((1, 3, 4), 1)
    >>> store.close(); store.dir.exists()
    False
    """

    def __init__(self, shape, folder=None, head: str = TEMP_HEAD):
        self.shape = tuple(int(n) for n in shape)
        folder = Path(folder) if folder is not None else Path(tempfile.gettempdir())
        clear_stale_scratch(folder, head)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{head}{process_tag()}-", dir=folder))
        self.path = self.dir / "frames.nc"
        self.count = 0
        self._handle: dict = {}
        self._finalizer = weakref.finalize(self, _release, self._handle, self.dir)

    def __reduce__(self):   # another process reads the file, never owns it
        return (FrameReader, (self.path, VARIABLE))

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def _close_writer(self) -> None:
        """Close the file open for appending (call with the lock held)."""
        nc = self._handle.pop("nc", None)
        if nc is not None:
            nc.close()

    def _writer(self):
        """The file open for appending, created at the first frame; call with the lock held."""
        import netCDF4

        if self.closed:
            raise RuntimeError(f"{self.dir}: the depth frames of this run were already removed")
        nc = self._handle.get("nc")
        if nc is not None:
            return nc
        from .raster import write_cache

        with write_cache():   # kept open across frames: a small chunk cache, not 64 MB
            nc = self._open(netCDF4)
        nc.set_auto_mask(False)
        self._handle["nc"] = nc
        return nc

    def _open(self, netCDF4):
        """Open the scratch file for appending, creating it (and its variable) if need be."""
        if self.path.exists():
            return netCDF4.Dataset(self.path, "a")
        ny, nx = self.shape
        nc = netCDF4.Dataset(self.path, "w", format="NETCDF4")
        nc.createDimension("time", None)
        nc.createDimension("y", ny)
        nc.createDimension("x", nx)
        nc.createVariable(VARIABLE, "f4", ("time", "y", "x"), zlib=True, complevel=SCRATCH_COMPLEVEL,
                          chunksizes=(1, _chunk(ny), _chunk(nx)), fill_value=np.float32(np.nan))
        return nc

    def append(self, frame: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Write one frame (ny, nx) after the last, as float32 and NaN where ``valid`` is False (when
        given), :data:`~floodsim.io.raster.LAZY_ROWS` rows at a time (no full-size copy of the frame)."""
        from .raster import LAZY_ROWS

        frame = np.asarray(frame)
        if frame.shape != self.shape or (valid is not None and valid.shape != self.shape):
            raise ValueError(f"frame of shape {frame.shape}, expected {self.shape}")
        with _hdf5():
            var = self._writer()[VARIABLE]
            for r0 in range(0, self.shape[0], LAZY_ROWS):
                block = frame[r0:r0 + LAZY_ROWS].astype(np.float32)
                if valid is not None:
                    block[~valid[r0:r0 + LAZY_ROWS]] = np.nan
                var[self.count, r0:r0 + block.shape[0]] = block
            self.count += 1

    def read(self, key) -> np.ndarray:
        """``frames[key]`` (numpy indexing of (time, y, x); slices)."""
        with _hdf5():
            if self.closed:
                raise RuntimeError(f"{self.dir}: the depth frames of this run were already removed")
            self._close_writer()
            return _read(self.path, VARIABLE, key)

    def lazy(self):
        """The frames written so far as a dask array (time, y, x), a chunk per frame and
        :data:`~floodsim.io.raster.LAZY_ROWS` rows. The file is closed
        for appending (on disk whole: another process of this host may read it by its path)."""
        with _hdf5():
            self._close_writer()
        return _lazy(self, self.count, self.shape)

    def copy_to(self, dest) -> Path:
        """Copy the frames file to ``dest`` atomically (temporary name, fsync, rename)."""
        dest = Path(dest)
        with atomic_path(dest) as tmp:
            with _hdf5():
                self._close_writer()          # everything on disk
                shutil.copyfile(self.path, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        return dest

    @classmethod
    def from_file(cls, path, n: int, shape, folder=None, head: str = TEMP_HEAD) -> FrameStore:
        """A new store holding the first ``n`` frames of ``path`` (copied frame by frame)."""
        store = cls(shape, folder, head)
        reader = FrameReader(path)
        available = reader.count()
        if available < n:
            store.close()
            raise ValueError(f"{path} holds {available} frames, {n} needed")
        for k in range(n):
            store.append(reader.read(k))
        return store

    def close(self) -> None:
        """Close the file and remove the scratch folder (idempotent)."""
        with _hdf5():
            self._close_writer()
        self._finalizer()


__all__ = ["TEMP_HEAD", "FrameReader", "FrameStore", "clear_stale_scratch", "lazy_frames"]
