"""Secrets: API keys in the OS keyring, and redaction of their values from any text."""

from studio.secrets.redact import MASK, redact, redact_data, redactor
from studio.secrets.store import NO_BACKEND_HELP, SERVICE, KeyStatus, KeyStore, read_keys

__all__ = ["MASK", "NO_BACKEND_HELP", "SERVICE", "KeyStatus", "KeyStore", "read_keys", "redact", "redact_data", "redactor"]
