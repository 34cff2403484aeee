"""Analytics: every call and run in DuckDB, the audit trail, and the dashboard queries.
Headless (no NiceGUI); the UI, the CLI and the gateway share `queries`."""

from studio.analytics.settings import AnalyticsSettings
from studio.analytics.store import AnalyticsStore

__all__ = ["AnalyticsSettings", "AnalyticsStore"]
