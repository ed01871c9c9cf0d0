"""What the pcap and pcapng readers and writers share: a capture given as a path or a file object.

A path is opened here and closed by ``close()``; a binary file object stays the caller's (``close()``
only flushes what was written). Every reader and writer is a context manager.
"""

from __future__ import annotations

import os


class CaptureFile:
    """Base of ``PcapReader``, ``PcapWriter`` and ``PcapngWriter``."""

    def _open(self, fileobj_or_path, mode: str) -> None:
        if isinstance(fileobj_or_path, (str, bytes, os.PathLike)):
            self._file = open(fileobj_or_path, mode)
            self._owns_file = True
        else:
            self._file = fileobj_or_path
            self._owns_file = False
        self._writing = "w" in mode

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self._owns_file:
            self._file.close()
        elif self._writing:
            self._file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["CaptureFile"]
