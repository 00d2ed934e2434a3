"""Connection settings: what a hook needs from its Airflow connection, read and checked once.

Airflow hands a connection over in several shapes, and all of them must reach the same base URL:

* the full base URL in ``host`` (``https://api.posteketab.com/api/v2/public``), as the UI form and a
  JSON ``AIRFLOW_CONN_*`` value hold it;
* a URI (``AIRFLOW_CONN_*``, ``airflow connections add --conn-uri``, every secrets backend), which
  Airflow splits into ``host``, ``port`` and ``schema`` (the URI's path):
  ``posteketab://:TOKEN@api.example.ir/api%2Fv2%2Fpublic``. Such a URL is https unless the
  connection's ``scheme`` extra says ``http`` (``openreplay://:KEY@or.local:8080/api%2Fv2?scheme=http``),
  or the host itself carries the scheme (``openreplay://:KEY@http%3A%2F%2For.local:8080/api%2Fv2``,
  what ``Connection.get_uri()`` writes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_tasks.connection_forms import DEFAULT_TIMEOUT
from airflow_provider_tasks.redaction import register_secret

__all__ = ["SCHEMES", "ConnectionSettings", "base_url_of", "read_settings"]

log = logging.getLogger(__name__)

#: URL schemes a base URL may use (the ``scheme`` extra picks one for a host without a scheme).
SCHEMES = ("https", "http")


@dataclass(frozen=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection, validated once."""

    conn_id: str
    base_url: str
    secret: str
    timeout: float
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # the secret must never reach a repr
        return f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, secret='***')"


def _bad(conn_id: str, what: str) -> ValueError:
    return ValueError(f"Connection {conn_id!r}: {what}")


def base_url_of(
    conn_id: str,
    *,
    host: str | None,
    port: int | None,
    schema: str | None,
    scheme: Any,
    default: str,
) -> str:
    """The base URL of a connection, from a full URL in ``host`` or from host, port and schema."""
    raw = (host or "").strip()
    path = (schema or "").strip().strip("/")
    if scheme not in (None, ""):
        if str(scheme).strip().lower() not in SCHEMES:
            raise _bad(conn_id, f"extra 'scheme' must be 'https' or 'http', got {scheme!r}")
        scheme = str(scheme).strip().lower()
    if not raw:
        if path or port:
            raise _bad(conn_id, f"has a schema/port ({schema!r}, {port!r}) but no host: put the base URL in host")
        return default.rstrip("/")
    if any(char.isspace() for char in raw):
        raise _bad(conn_id, f"host must be an http(s) base URL, got {host!r}")
    try:
        parts = urlsplit(raw if "://" in raw else f"{scheme or 'https'}://{raw}")
    except ValueError as error:  # e.g. an unclosed IPv6 bracket
        raise _bad(conn_id, f"host must be an http(s) base URL, got {host!r} ({error})") from None
    if "://" in raw and scheme and scheme != parts.scheme:
        raise _bad(conn_id, f"host {host!r} says {parts.scheme!r} but extra 'scheme' says {scheme!r}")
    try:
        host_port = parts.port
    except ValueError:
        raise _bad(conn_id, f"host must be an http(s) base URL, got {host!r} (bad port)") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise _bad(conn_id, f"host must be an http(s) base URL, got {host!r}")
    if any(not label or len(label) > 63 for label in parts.hostname.removesuffix(".").split(".")):
        raise _bad(
            conn_id,
            f"host must be an http(s) base URL, got {host!r} (an empty or over-long label in {parts.hostname!r})",
        )
    if port and host_port and int(port) != host_port:
        raise _bad(conn_id, f"host {host!r} names port {host_port} but the connection's port is {port}")
    if path and parts.path.strip("/"):
        raise _bad(
            conn_id,
            f"the path is given twice, in host ({parts.path!r}) and in schema ({schema!r}): keep one",
        )
    netloc = parts.netloc if not port or host_port else f"{parts.netloc}:{int(port)}"
    full_path = parts.path.rstrip("/") if not path else f"/{path}"
    return f"{parts.scheme}://{netloc}{full_path}"


def read_settings(
    conn: Any,
    extras: Mapping[str, Any],
    *,
    conn_id: str,
    conn_type: str,
    default_host: str,
    password_label: str,
    service: str,
    timeout_override: float | None = None,
) -> ConnectionSettings:
    """Check an Airflow connection and return its settings; ``ValueError`` names what is wrong."""
    found_type = (getattr(conn, "conn_type", None) or "").strip()
    if found_type and found_type != conn_type:
        # Not an error: people reuse generic http connections, whose fields mean the same.
        log.warning(
            "Connection %r is of type %r, not %r: using its host and password as a %s connection",
            conn_id,
            found_type,
            conn_type,
            service,
        )
    base_url = base_url_of(
        conn_id,
        host=conn.host,
        port=conn.port,
        schema=conn.schema,
        scheme=extras.get("scheme"),
        default=default_host,
    )
    secret = (conn.password or "").strip()
    if not secret:
        raise _bad(conn_id, f"has no password: put the {service} {password_label} there")
    register_secret(conn.password)
    register_secret(secret)
    timeout = timeout_override
    if timeout is None:
        raw = extras.get("timeout")
        try:
            timeout = DEFAULT_TIMEOUT if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            raise _bad(conn_id, f"extra 'timeout' must be a number of seconds, got {raw!r}") from None
        if timeout <= 0:
            raise _bad(conn_id, f"extra 'timeout' must be > 0, got {raw!r}")
    return ConnectionSettings(conn_id=conn_id, base_url=base_url, secret=secret, timeout=float(timeout), extras=extras)
