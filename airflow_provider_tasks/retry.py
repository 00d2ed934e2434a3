"""Capped exponential backoff with jitter that honours ``Retry-After``, shared by every HTTP call."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

__all__ = ["RetryPolicy", "parse_retry_after"]

# A server asking for more than this is treated as asking for this: a poll must not stall for hours.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried.

    :param attempts: total tries of one call, the first included (1 = no retry).
    :param base_delay: delay before the first retry, in seconds; doubles each time.
    :param max_delay: cap of the exponential delay, in seconds.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be >= 1, got {self.attempts!r}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"retry delays must be >= 0, got {self.base_delay!r}/{self.max_delay!r}")

    def delay(self, failed_attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``failed_attempts`` failures (1-based).

        "Full jitter" over the capped exponential spreads simultaneous waiters apart; a server's
        ``Retry-After`` is a floor, never shortened by the jitter.
        """
        exponential = min(self.max_delay, self.base_delay * (2 ** (failed_attempts - 1)))
        jittered = random.uniform(exponential / 2, exponential)
        if retry_after is not None:
            return max(min(retry_after, MAX_RETRY_AFTER), jittered)
        return jittered


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header: delta-seconds or an HTTP-date. Unreadable values are ignored."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())
