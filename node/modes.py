"""The node's named modes: quorum, conflict resolution, and log levels.

Each is a `str` enum whose values are the config-file spellings, so a mode
compares equal to its text and reads back from TOML unchanged.
"""

from __future__ import annotations

import enum


class QuorumMode(enum.StrEnum):
    """Which replicas count toward R and W."""

    SLOPPY = "sloppy"
    """The first N healthy nodes of the preference list (fallbacks hold hints)."""
    STRICT = "strict"
    """The first N nodes only; reads and writes meet (r + w > n), linearizable registers."""


class ConflictMode(enum.StrEnum):
    """How concurrent writes to one key are resolved."""

    SIBLINGS = "siblings"
    """Concurrent values are kept as siblings for the client to reconcile."""
    LWW = "lww"
    """The value with the newest (timestamp, dot) wins; the others are dropped."""


class LogLevel(enum.StrEnum):
    """Severity of a `Log` effect; the value is the `logging` level name in lower case."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
