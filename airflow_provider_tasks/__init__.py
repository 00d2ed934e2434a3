"""Apache Airflow provider for the background tasks of Post-e-Ketab, OpenReplay and Mobizon."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"
