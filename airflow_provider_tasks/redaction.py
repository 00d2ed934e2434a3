"""Keeping API keys out of logs, exception texts and reprs.

Airflow masks registered secrets only inside task processes. Mobizon carries its key in the URL,
and urllib3/aiohttp log request URLs at DEBUG level outside any masking, so the package redacts
on its own: every hook registers its secret here, and a logging filter on the HTTP libraries'
loggers rewrites their records before any handler sees them.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["REDACTED", "install_log_filter", "redact", "register_secret"]

REDACTED = "***"

# Query-string credentials are redacted by name even when the value was never registered
# (a key read by some other code path, a key in a redirect URL).
_QUERY_SECRET = re.compile(r"(?i)((?:api_?key|token|password)=)[^&\s'\"#]+")

_secrets: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` removes it, and ask Airflow to mask it too."""
    global _pattern
    if not value or len(value) < 4:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _pattern = re.compile("|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True)))
    try:
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(value)
    except Exception:  # masking is a bonus; our own redaction does not depend on it
        pass


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and every credential query parameter removed."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = _RedactingFilter()
# Logger filters apply only to records created on that very logger, so list the emitting ones.
_HTTP_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.connection",
    "requests",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.web",
    "airflow_provider_tasks",
)


def install_log_filter() -> None:
    """Attach the redacting filter to the loggers that may print request URLs (idempotent)."""
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
