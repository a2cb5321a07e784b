"""Supervise a Lava runtime: no hang on a failing ProcessModel, no process left behind.

Lava runs every ProcessModel in its own OS process. When one raises, the run may
block forever or raise a bare "1 Exception(s) occurred" while the real error sits
in a child's log, and ``stop()`` then waits forever on processes that are gone
(lava#231, #178). A :class:`LavaSupervisor` wraps the calls that drive a runtime:

* while a call runs, a watchdog thread polls the runtime's OS processes; when one
  has died or reported an exception, the call is ended within seconds (a signal
  interrupts the main thread if Lava itself does not return) and raises
  :class:`LavaRunError` with the child's own error, on one line;
* SIGTERM/SIGHUP raise :class:`~lava_mlsnn.lifecycle.Terminated` (SIGINT:
  ``KeyboardInterrupt``) inside the call, and the runtime is torn down;
* processes forked by the runtime get SIGKILL if this process dies
  (:func:`~lava_mlsnn.lifecycle.die_with_parent`);
* :meth:`LavaSupervisor.shutdown` stops a healthy runtime with Lava's ``stop()``
  (bounded in time) and a failed one by ending its processes directly.

A runner uses it through two calls: ``supervisor.call(process, fn)`` around
``create_runtime``/``run``, and ``supervisor.shutdown(process)`` in ``finally``.
"""
from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from typing import Any, Callable, List, Optional

from ..lifecycle import die_with_parent, terminate_on_signals

_INTERRUPT = signal.SIGUSR2


class LavaRunError(RuntimeError):
    """A Lava ProcessModel failed; the message names it and its error (one line)."""


class LavaStalled(LavaRunError):
    """A Lava call did not return within its time limit while every process was alive
    (a deadlock of the runtime: lava#178, #231). The runtime is unusable afterwards."""


class _WatchdogInterrupt(BaseException):
    """Raised in the main thread by the watchdog's signal (never escapes ``call``)."""


def _actors(process: Any) -> List[Any]:
    rt = getattr(process, "runtime", None) if process is not None else None
    mi = getattr(rt, "_messaging_infrastructure", None)
    return list(getattr(mi, "actors", None) or [])


def _actor_names(process: Any) -> List[str]:
    """Names of the runtime's OS processes, in the order Lava started them."""
    rt = getattr(process, "runtime", None)
    exe = getattr(rt, "_executable", None)
    names = []
    for b in (getattr(exe, "proc_builders", None) or {}).values():
        if type(b).__name__ == "PyProcessBuilder":
            params = b.proc_params or {}
            name = params.get("name") if hasattr(params, "get") else None
            model = b.proc_model.__name__
            names.append(f"{name} ({model})" if name else model)
    names += ["Lava's runtime service"] * len(getattr(exe, "runtime_service_builders", None)
                                               or {})
    return names


def _actor_failure(actor: Any, name: str, read_pipe: bool = True) -> Optional[str]:
    """One line when ``actor`` reported an exception or died, else ``None``.

    ``read_pipe``: read the child's result pipe (``actor.exception``). Only the thread
    that runs Lava's calls may: Lava's runtime and its ``join`` read the same pipe, and two
    readers of one message each wait for bytes the other took (a run that hangs for ever).
    The watchdog thread passes False and sees a failed child by its exit status."""
    try:  # what was received already, or the pipe's next message
        exc = actor.exception if read_pipe else getattr(actor, "_exception", None)
    except (OSError, EOFError, ValueError):
        exc = None
    if exc:
        err = exc[0] if isinstance(exc, tuple) else exc
        text = " ".join(str(err).split()) or type(err).__name__
        return f"{name} failed: {type(err).__name__}: {text}"
    try:
        code = actor.exitcode
    except ValueError:  # closed by Lava's join: it ended normally
        return None
    if code is not None and code != 0:
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return f"{name} died ({how})"
    return None


def _failures(process: Any, read_pipes: bool = True) -> List[Optional[str]]:
    actors = _actors(process)
    names = _actor_names(process)
    names += ["a Lava process"] * (len(actors) - len(names))
    return [_actor_failure(a, n, read_pipes) for a, n in zip(actors, names)]


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class LavaSupervisor:
    """Watchdog, signal handling and teardown for one Lava runtime.

    Parameters
    ----------
    poll_s : float
        How often the watchdog looks at the runtime's processes (seconds).
    grace_s : float
        How long Lava may take to report a failure itself before the call is
        interrupted (seconds).
    stop_timeout_s : float
        Longest wait for Lava's own ``stop()`` before the processes are ended
        directly (seconds).
    """

    def __init__(self, poll_s: float = 0.2, grace_s: float = 1.0,
                 stop_timeout_s: float = 20.0) -> None:
        self.poll_s = float(poll_s)
        self.grace_s = float(grace_s)
        self.stop_timeout_s = float(stop_timeout_s)
        self.failed = False
        self.stalled = False
        self._join_s = self.poll_s + self.grace_s + 5.0  # longest wait for the watchdog
        self.error: Optional[str] = None

    # ------------------------------------------------------------------ watching
    def _watch(self, process: Any, done: threading.Event, main_ident: Optional[int],
               deadline: Optional[float], what: str, timeout_s: Optional[float]) -> None:
        seen_at = None
        while not done.wait(self.poll_s):
            if self.error is None:
                for msg in _failures(process, read_pipes=False):
                    if msg:
                        self.error = msg
                        seen_at = time.monotonic()
                        break
            if deadline is not None and self.error is None and time.monotonic() > deadline:
                self.error = f"{what} did not finish within {timeout_s:.0f} s"
                self.stalled = True
                seen_at = time.monotonic() - self.grace_s
            if seen_at is not None and time.monotonic() - seen_at >= self.grace_s:
                if main_ident is not None and not done.is_set():
                    signal.pthread_kill(main_ident, _INTERRUPT)
                    seen_at = time.monotonic()  # repeat while the call is still stuck
                else:
                    return

    def call(self, process: Any, fn: Callable[[], Any], *, timeout_s: Optional[float] = None,
             what: str = "a Lava call") -> Any:
        """Run ``fn()`` (a Lava call on ``process``'s network) under the watchdog.

        ``timeout_s`` bounds the call (seconds, ``None``: unbounded); ``what`` names
        it in the error.

        Raises
        ------
        LavaRunError
            A ProcessModel raised or died; the runtime is marked failed and
            :meth:`shutdown` will end its processes.
        LavaStalled
            ``timeout_s`` passed with every process alive (the runtime is failed too).
        lava_mlsnn.lifecycle.Terminated, KeyboardInterrupt
            A signal arrived; the runtime is marked failed as well.
        """
        if self.failed:
            raise LavaRunError(self.error or "this Lava runtime failed earlier")
        in_main = threading.current_thread() is threading.main_thread()
        done = threading.Event()
        previous = None
        if in_main:
            def _on_interrupt(_signum, _frame):
                if not done.is_set():
                    raise _WatchdogInterrupt()
            previous = signal.signal(_INTERRUPT, _on_interrupt)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        watcher = threading.Thread(target=self._watch, name="lava-mlsnn-watchdog", daemon=True,
                                   args=(process, done, threading.main_thread().ident
                                         if in_main else None, deadline, what, timeout_s))
        watcher.start()
        try:
            with die_with_parent(), terminate_on_signals():
                return fn()
        except _WatchdogInterrupt:
            self.failed = True
            done.set()
            watcher.join(self._join_s)
            if not self.stalled:  # the child's own exception, read on this thread
                self.error = next((m for m in _failures(process) if m), None) or self.error
            kind = LavaStalled if self.stalled else LavaRunError
            raise kind(self.error or "a Lava process failed") from None
        except Exception as err:
            self.failed = True
            done.set()
            watcher.join(self._join_s)
            if self.error is None:  # Lava's own error hides the child's: look for it
                self.error = next((m for m in _failures(process) if m), None)
            raise LavaRunError(self.error or f"Lava run failed: {_one_line(err)}") from None
        except BaseException:
            self.failed = True
            raise
        finally:
            done.set()
            watcher.join(self._join_s)  # bounded: a daemon thread, never a hang
            if previous is not None:
                signal.signal(_INTERRUPT, previous)

    # ------------------------------------------------------------------ teardown
    def shutdown(self, process: Any, started: bool = True) -> None:
        """End ``process``'s runtime: Lava's ``stop()`` when healthy, else directly.

        Safe to call more than once and after any failure. Never hangs.
        """
        if process is None or getattr(process, "runtime", None) is None:
            return
        rt = process.runtime
        if started and not self.failed and getattr(rt, "_is_started", False):
            try:
                self.call(process, process.stop, timeout_s=self.stop_timeout_s,
                          what="Lava's stop()")
            except Exception:  # noqa: BLE001 -- LavaRunError or any failure of stop()
                self.failed = True
            except BaseException:
                self.failed = True
                self.terminate(process)
                raise
        self.terminate(process)

    @staticmethod
    def terminate(process: Any) -> None:
        """End every OS process of ``process``'s runtime and free its shared memory."""
        rt = getattr(process, "runtime", None)
        if rt is None:
            return
        actors = _actors(process)
        for actor in actors:
            try:
                if actor.is_alive():
                    actor.terminate()
            except (ValueError, OSError, AssertionError):
                pass
        end = time.monotonic() + 2.0
        for actor in actors:  # Process.join: Lava's SystemProcess.join takes no timeout
            try:
                multiprocessing.Process.join(actor, max(0.0, end - time.monotonic()))
                if actor.is_alive():
                    actor.kill()
                    multiprocessing.Process.join(actor, 1.0)
            except (ValueError, OSError, AssertionError):
                pass
        mi = getattr(rt, "_messaging_infrastructure", None)
        smm = getattr(mi, "smm", None)
        if smm is not None:
            try:
                smm.shutdown()  # unlinks the runtime's shared-memory segments
            except Exception:  # noqa: BLE001 -- the manager may already be gone
                pass
        # Lava's __del__ would call stop() and wait forever on the dead processes.
        rt._is_started = False
        rt._is_running = False
        if mi is not None:
            mi._actors = []
