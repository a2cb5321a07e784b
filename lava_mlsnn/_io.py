"""Safe files: checked input paths, refused output targets, atomic writes.

Every file lava-mlsnn writes (network files, ``simulate --out`` arrays,
checkpoints, run logs) goes through :func:`atomic_write`: the data goes to a
temporary file in the target's own directory, which is renamed over the target
only when complete, so a failure (disk full, file too large, a signal) leaves the
old file, or none, never a partial one. Targets that are not regular files --
device files, FIFOs, sockets, directories -- and symbolic links are refused, so a
write can never land somewhere else than where it was aimed.

Inputs are opened only when they are regular files: a FIFO would block a reader
forever and a device file can be endless.
"""
from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
from typing import BinaryIO, Callable, Optional


class UnsafePathError(OSError):
    """A path lava-mlsnn refuses to read or write (one-line message)."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def check_input_file(path: str) -> None:
    """Refuse anything but an existing regular file (symbolic links to one are fine).

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    UnsafePathError
        A FIFO, device, socket or directory.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnsafePathError(f"{path}: is a dangling symbolic link "
                                  f"(to {os.readlink(path)!r:.80})") from None
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafePathError(f"{path}: is a symbolic link loop") from None
        raise UnsafePathError(f"{path}: cannot read ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"{path}: is {_kind(st.st_mode)}, expected a regular file")


class ArrayHeaderError(ValueError):
    """An ``.npy`` array whose header the file cannot back (one-line message)."""


def check_npy_header(f: BinaryIO, size: int, where: str) -> None:
    """Check an ``.npy`` header against the bytes that follow it, before numpy allocates.

    ``np.load`` allocates the whole array its header declares and only then reads; a
    header claiming ``(10**6,) * 4`` int64 in a 200-byte file asks for 7 TiB. Here the
    declared size must fit in the ``size`` bytes the file (or archive member) holds, and
    in the memory budget.

    Parameters
    ----------
    f : binary file positioned at the array's start (left just past its header)
    size : int
        Bytes of the whole array file (header included).
    where : str
        Names the file in messages.

    Raises
    ------
    ArrayHeaderError
        Not an ``.npy`` header, an object dtype, or more data declared than held.
    lava_mlsnn._limits.BudgetError
        A well-formed array too large for the memory budget.
    """
    from numpy.lib import format as npy_format

    from ._limits import check_budget, short
    try:
        version = npy_format.read_magic(f)
        read = {(1, 0): npy_format.read_array_header_1_0,
                (2, 0): npy_format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"format version {version} is not supported")
        shape, _, dtype = read(f)
    except (ValueError, SyntaxError, EOFError) as err:  # numpy's own header errors
        raise ArrayHeaderError(f"{where}: not a readable .npy array "
                               f"({short(' '.join(str(err).split()), 80)})") from None
    if dtype.hasobject:
        raise ArrayHeaderError(f"{where}: holds Python objects (dtype {short(str(dtype))})")
    count = 1
    for d in shape:
        count *= int(d)
    declared, held = count * dtype.itemsize, max(0, size - f.tell())
    if declared > held:
        raise ArrayHeaderError(f"{where}: header declares shape {short(tuple(shape))} "
                               f"({declared:,} bytes) but the file holds {held:,} bytes")
    check_budget(f"{where}: array", shape, dtype.itemsize)


def check_npy_file(path: str) -> None:
    """:func:`check_npy_header` on an ``.npy`` file, or on every member of an ``.npz``."""
    import zipfile
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(f) as z:
                    for info in z.infolist():
                        if info.filename.endswith(".npy"):
                            with z.open(info) as member:
                                check_npy_header(member, info.file_size,
                                                 f"{path}:{info.filename}")
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as err:
                raise ArrayHeaderError(f"{path}: not a readable .npz archive ({err})") from None
            return
        f.seek(0)
        check_npy_header(f, os.fstat(f.fileno()).st_size, path)


def is_devnull(path: str) -> bool:
    """``path`` names the null device (``/dev/null``): output is meant to be discarded."""
    return bool(path) and os.path.realpath(path) == os.devnull


def check_output_target(path: str) -> None:
    """Refuse an output path that exists and is not a plain regular file.

    ``/dev/null`` itself is accepted: writing to it is what the user means.

    Symbolic links are refused whatever they point to (replacing one would write
    somewhere else than the link's target, following it would write outside the
    named place); so are FIFOs, devices, sockets and directories.

    Raises
    ------
    UnsafePathError
    """
    if is_devnull(path):
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise UnsafePathError(f"{path}: cannot write ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"{path}: is {_kind(st.st_mode)}; refusing to replace it "
                              "(give a regular file name)")


class _Discard(io.RawIOBase):
    """A seekable sink for ``/dev/null``: bytes are dropped, positions kept.

    ``/dev/null`` itself claims to be seekable but reports position 0 after any
    write, so a zip writer (``np.savez``) packs a negative offset into its trailer
    and fails; here ``tell`` follows the writes as on a regular file.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pos = 0
        self._end = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, b) -> int:
        n = len(memoryview(b))
        self._pos += n
        self._end = max(self._end, self._pos)
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = max(0, offset + (0, self._pos, self._end)[whence])
        self._end = max(self._end, self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos


class _StopAfterFailure(_Discard):
    """A binary file that, after its first failed write, discards the rest.

    Writers such as :class:`zipfile.ZipFile` try to write their trailer again
    from ``close``/``__del__`` after a failure and print a second traceback; the
    first error is kept in :attr:`error` and re-raised by :func:`atomic_write`.
    After the failure, positions are kept as if the writes had landed, so such a
    writer's late bookkeeping stays consistent (a zip trailer packs its offsets).
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw = raw
        self.error: Optional[OSError] = None

    def _dead(self) -> bool:
        return self.error is not None or self.raw.closed

    def readable(self) -> bool:
        return False

    def write(self, b) -> int:
        if not self._dead():
            try:
                self.raw.write(b)
            except OSError as err:
                self.error = err
                raise
        return super().write(b)

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._dead():
            return super().seek(offset, whence)
        return super().seek(self.raw.seek(offset, whence))

    def flush(self) -> None:
        if not self._dead():
            try:
                self.raw.flush()
            except OSError as err:
                self.error = err
                raise


def atomic_write(path: str, write: Callable[[BinaryIO], None], *, mkdir: bool = True,
                 mode: int = 0o644, fsync: bool = True) -> None:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file beside it.

    Parameters
    ----------
    path : str
        Target; must be absent or a regular file (:func:`check_output_target`).
    write : callable
        Receives a binary file object opened for writing (seekable).
    mkdir : bool
        Create the target's directory when missing.
    mode : int
        Permission bits of the new file (before the umask).
    fsync : bool
        Flush to the device before the rename (off for caches, which are rebuilt
        when a crash leaves a file unreadable).

    Raises
    ------
    UnsafePathError
        The target is a link, FIFO, device, socket or directory.
    OSError
        Writing failed (``ENOSPC``, ``EFBIG``, ...): the target is unchanged and no
        temporary file remains.
    """
    check_output_target(path)
    if is_devnull(path):  # nothing to keep: the bytes are counted, not written
        write(_Discard())
        return
    directory = os.path.dirname(os.path.abspath(path))
    if mkdir:
        os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lava-mlsnn-", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, mode & ~umask)
        with os.fdopen(fd, "wb") as raw:
            guard = _StopAfterFailure(raw)
            try:
                write(guard)
            except OSError:
                if guard.error is not None:
                    raise guard.error from None
                raise
            if guard.error is not None:  # swallowed by the writer: still a failure
                raise guard.error
            raw.flush()
            if fsync:
                os.fsync(raw.fileno())
        check_output_target(path)  # it may have been replaced meanwhile
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is None or err.filename == tmp:  # name the target, not the temp
            err.filename = path
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_path(path: str, write: Callable[[io.BytesIO], None], *,
                      mkdir: bool = True) -> None:
    """As :func:`atomic_write` for HDF5 writers (h5py, ``nir.write``): ``write(buf)`` fills
    an in-memory file object, whose bytes then go through :func:`atomic_write`.

    HDF5's C library crashes the process (a segmentation fault while closing) when the
    disk fills under it; built in memory, the file meets the disk only through Python
    writes, whose failure is a clean ``OSError``. ``write`` receives a seekable binary
    buffer, which ``h5py.File(buf, "w")`` and ``nir.write(buf, graph)`` accept.
    """
    check_output_target(path)
    buf = io.BytesIO()
    write(buf)
    atomic_write(path, lambda f: f.write(buf.getbuffer()), mkdir=mkdir)


#: The errors that mean the disk (or a size limit) is full, and how a message says each.
DISK_FULL = {errno.ENOSPC: "no space left on the device",
             errno.EFBIG: "file too large for the file system or the size limit",
             errno.EDQUOT: "disk quota exceeded"}


def is_disk_full(err: BaseException) -> bool:
    """Whether an ``OSError`` means no space or a file-size limit."""
    return isinstance(err, OSError) and err.errno in DISK_FULL


def write_error_line(path: str, err: OSError) -> str:
    """One line for a failed write, naming the path and the reason."""
    if isinstance(err, UnsafePathError):
        return str(err)
    reason = DISK_FULL.get(err.errno, err.strerror or str(err))
    return f"{path}: cannot write ({reason}); nothing was written"
