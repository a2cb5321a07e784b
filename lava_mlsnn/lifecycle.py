"""Process hygiene shared by the command, the Lava backend and the training script.

Three things, stdlib only (no numpy, torch or Lava):

* :func:`terminate_on_signals` turns SIGTERM and SIGHUP (what ``timeout``, Slurm,
  systemd and a closed terminal send) into a :class:`Terminated` exception in the
  main thread, as Python already does for SIGINT with ``KeyboardInterrupt``, so
  that every ``finally`` runs: Lava runtimes stop, child processes end, scratch
  files go.
* :func:`die_with_parent` makes processes forked from here on (Lava's runtime and
  ProcessModel processes, its shared-memory manager, DataLoader workers) receive
  SIGKILL when their parent dies, however it dies (``PR_SET_PDEATHSIG``, Linux),
  so a SIGKILLed run leaves no orphans.
* :class:`ScratchDir` is a private directory holding a lock file (``.lock``) that
  its owner keeps ``flock``-ed for the run's lifetime (forked children share the
  lock). The next :class:`ScratchDir` removes directories whose lock it can take --
  the owner is gone however it died -- and nothing else: a live run in another PID
  namespace sharing ``/dev/shm`` (containers) keeps its files, which a pid guess
  would not.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import tempfile
import threading
from typing import Iterator, Optional, Tuple

#: Signals that end a run cleanly (SIGINT raises ``KeyboardInterrupt`` already).
TERMINATING = (signal.SIGTERM, signal.SIGHUP)
SCRATCH_PREFIX = "lava-mlsnn-"
SCRATCH_ENV = "LAVA_MLSNN_SCRATCH_DIR"  # base folder of scratch dirs (default: /dev/shm, tmp)
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """A terminating signal arrived (a ``BaseException``, as ``KeyboardInterrupt``,
    so that ``except Exception`` clauses do not swallow it).

    Attributes
    ----------
    signum : int
        The signal; a command exits with ``128 + signum``.
    """

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(f"terminated by {signal.Signals(self.signum).name}")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _raise_terminated(signum, _frame) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_on_signals(signals: Tuple[int, ...] = TERMINATING) -> Iterator[None]:
    """Raise :class:`Terminated` in the main thread on ``signals`` while inside.

    Outside the main thread (where Python cannot install handlers) this does
    nothing. Previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for s in signals:
        previous[s] = signal.signal(s, _raise_terminated)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------- parent death
_libc = None
_armed = 0
_hook_installed = False
_lock = threading.Lock()


def _prctl_pdeathsig(sig: int) -> bool:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        return False


def _after_fork_in_child() -> None:
    global _armed
    if _armed <= 0:
        return
    _armed = 0  # the child's own children are its business
    parent = os.getppid()
    _prctl_pdeathsig(signal.SIGKILL)
    if parent == 1:  # the parent died between fork and prctl
        os._exit(1)
    # The parent decides when its children end: a Ctrl-C reaching the whole process
    # group must not print a traceback from every child, and the SIGTERM of the
    # parent's teardown must end a child at once (not raise ``Terminated`` in it).
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for s in TERMINATING:
            signal.signal(s, signal.SIG_DFL)
    except ValueError:  # not the main thread of the child: cannot happen after fork
        pass


def _install_hook() -> None:
    global _hook_installed
    with _lock:
        if not _hook_installed:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _hook_installed = True


@contextlib.contextmanager
def die_with_parent() -> Iterator[None]:
    """Processes forked inside this block get SIGKILL when this process dies.

    Linux delivers the signal when the *thread* that forked the child ends, so
    enter the block in a thread that outlives the children (the main thread).
    """
    global _armed
    _install_hook()
    _armed += 1
    try:
        yield
    finally:
        _armed -= 1


def arm_die_with_parent() -> None:
    """Process-wide :func:`die_with_parent`, for scripts that own their process
    (the training script: DataLoader workers must not outlive it)."""
    global _armed
    _install_hook()
    _armed += 1


def exit_with_parent(sig: int = signal.SIGTERM) -> None:
    """This process gets ``sig`` when its parent dies (e.g. a ``torchrun`` rank whose
    launcher is killed). No-op where the platform has no parent-death signal."""
    parent = os.getppid()
    if _prctl_pdeathsig(sig) and parent == 1:
        os.kill(os.getpid(), sig)


# --------------------------------------------------------------------------- scratch dirs
LOCK_NAME = ".lock"


def scratch_bases() -> Tuple[str, ...]:
    """Folders scratch dirs may live in: ``$LAVA_MLSNN_SCRATCH_DIR``, else RAM
    (``/dev/shm``) and the temporary folder."""
    env = os.environ.get(SCRATCH_ENV)
    if env:
        return (env,)
    bases = []
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        bases.append("/dev/shm")
    bases.append(tempfile.gettempdir())
    return tuple(bases)


def _take_lock(path: str) -> Optional[int]:
    """The fd of ``path``'s lock file, exclusively locked, or None when another process
    holds it (or there is no lock file: a directory still being made, or not ours)."""
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale_scratch(base: str) -> int:
    """Remove scratch dirs in ``base`` whose lock no process holds; returns how many.

    Only this user's directories named ``lava-mlsnn-*`` with a lock file are
    considered; one whose lock is held (its run is alive, in whatever PID namespace)
    or that has no lock file is left alone.
    """
    removed = 0
    try:
        names = os.listdir(base)
    except OSError:
        return 0
    uid = os.getuid()
    for name in names:
        if not name.startswith(SCRATCH_PREFIX):
            continue
        path = os.path.join(base, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if st.st_uid != uid or not os.path.isdir(path) or os.path.islink(path):
            continue
        fd = _take_lock(path)
        if fd is None:
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
        removed += 1
    return removed


class ScratchDir:
    """A private directory for one run's files, removed by :meth:`remove`.

    Parameters
    ----------
    nbytes : int
        Expected size; RAM (``/dev/shm``) is used when it has twice that free.

    The directory holds ``.lock``, ``flock``-ed until :meth:`remove`; unlocked dirs
    of ended runs in the same folders are removed first. The lock file appears under
    its name already locked (made under another name, locked, renamed), so a
    cleaner never finds it unlocked while its owner lives.
    """

    def __init__(self, nbytes: int = 0) -> None:
        bases = scratch_bases()
        for base in bases:
            remove_stale_scratch(base)
        chosen: Optional[str] = None
        for base in bases:
            try:
                if base == "/dev/shm" and shutil.disk_usage(base).free <= 2 * nbytes:
                    continue
            except OSError:
                continue
            chosen = base
            break
        os.makedirs(chosen or bases[-1], exist_ok=True)
        self.path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-",
                                     dir=chosen or bases[-1])
        fd, tmp = tempfile.mkstemp(prefix=".lock-", dir=self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(tmp, os.path.join(self.path, LOCK_NAME))
        except BaseException:
            os.close(fd)
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        self._lock_fd: Optional[int] = fd

    def remove(self) -> None:
        """Delete the directory and everything in it, then drop the lock (idempotent)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "ScratchDir":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
