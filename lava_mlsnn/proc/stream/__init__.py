"""File-backed ring-buffer source and sink Processes (fast host I/O)."""
from .process import StreamSink, StreamSource

__all__ = ["StreamSink", "StreamSource"]
