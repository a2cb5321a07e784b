"""Logging and progress for lava-mlsnn's library code.

The library logs through ``logging.getLogger("lava_mlsnn.<module>")`` and prints
nothing itself; the commands (``lava-mlsnn``, ``train``, ``export``) call
:func:`configure`, which sends INFO lines as they are and warnings as ``warning: ...``
to the *current* ``sys.stdout`` (``-q``: warnings only, ``-v``: debug too). Progress bars
appear only on a terminal (:func:`show_progress`); elsewhere a run logs one plain line
per epoch, and on a terminal each epoch's bar stays on screen, so the history is kept
either way.
"""
from __future__ import annotations

import logging
import sys

ROOT = "lava_mlsnn"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (test capture, redirection)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # logging sets it in __init__; the property wins
        pass


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"warning: {msg}"
        return msg


def configure(verbosity: int = 0) -> None:
    """Install (once) the command-line handler and set the level: ``verbosity`` < 0
    warnings only, 0 info, > 0 debug."""
    logger = logging.getLogger(ROOT)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(_Format())
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity < 0 else
                    logging.DEBUG if verbosity > 0 else logging.INFO)


def show_progress(requested: bool = True, stream=None) -> bool:
    """Whether to draw a progress bar: asked for, and ``stream`` (stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(requested) and stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
