"""Resident memory of this process, read so that nothing carries over from the process that started it.

On Linux ``getrusage(RUSAGE_SELF).ru_maxrss`` is *not* fresh in a new subprocess: ``execve`` keeps the
high-water mark of the memory image it replaces, and with ``vfork`` (what Python's ``subprocess``
uses) that image is the parent's. A child started by a 200 MB driver reports at least 200 MB. The
kernel's per-image counters in ``/proc/self/status`` (``VmHWM``, ``VmRSS``) start afresh at exec.
"""

from __future__ import annotations

import resource
from pathlib import Path

__all__ = ["current_rss_bytes", "peak_rss_bytes", "reset_peak"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_bytes() -> int:
    """This process's peak resident set size (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    kilobytes = _status_kb("VmHWM")
    if kilobytes is None:
        kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kilobytes * 1024


def current_rss_bytes() -> int:
    """This process's resident set size now."""
    kilobytes = _status_kb("VmRSS")
    return peak_rss_bytes() if kilobytes is None else kilobytes * 1024


def reset_peak() -> bool:
    """Reset the peak to the current RSS (Linux ``clear_refs`` 5); False when the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5", encoding="ascii")
    except OSError:
        return False
    return True
