"""A Porcupine-compatible linearizability checker (Wing & Gong's search, Lowe's cache).

Describe the object with a `Model` (only `init` and `step` are required), give
a history of `Operation`s or `Event`s, and `check_operations` / `check_events`
answer OK, ILLEGAL or UNKNOWN (the timeout passed first). `visualize` draws
the evidence as one self-contained HTML page. Ready-made models live in
`models`; readers for Porcupine, Knossos and Sibyl histories in `files`.
"""

# ruff: noqa: E402  (the package path is set before the package's modules are imported)
# first: it puts a current mypyc build of the hot modules on this package's path
import native

ACTIVE = native.activate(__name__, __path__)
"""True when this package's compiled modules are in use (see `native`)."""

from checkers.linearizable.api import (
    check,
    check_events,
    check_events_verbose,
    check_operations,
    check_operations_info,
    check_operations_verbose,
    events_to_operations,
)
from checkers.linearizable.files import detect_format, load_history, parse_text
from checkers.linearizable.model import (
    UNKNOWN,
    Annotation,
    CheckResult,
    Event,
    EventKind,
    LinearizationInfo,
    Model,
    NondeterministicModel,
    Operation,
    PartitionInfo,
    fill_default,
)
from checkers.linearizable.models import MODELS, make_model
from checkers.linearizable.parsers import ParsedHistory, ParseError
from checkers.linearizable.visualize import visualize

__all__ = [
    "MODELS",
    "UNKNOWN",
    "Annotation",
    "CheckResult",
    "Event",
    "EventKind",
    "LinearizationInfo",
    "Model",
    "NondeterministicModel",
    "Operation",
    "ParseError",
    "ParsedHistory",
    "PartitionInfo",
    "check",
    "check_events",
    "check_events_verbose",
    "check_operations",
    "check_operations_info",
    "check_operations_verbose",
    "detect_format",
    "events_to_operations",
    "fill_default",
    "load_history",
    "make_model",
    "parse_text",
    "visualize",
]
