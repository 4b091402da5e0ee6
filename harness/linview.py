"""The linearizability view of a register run, for embedding in report.html.

It is the page `sibyl check --html` writes (checkers/linearizable/visualize.py),
opened at the first illegal op, embedded as an `<iframe srcdoc>` so its script
and styles stay apart from the report's. `positions()` maps the checker's
positional times back to history indices, so the report can name the ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from checkers.history import Op, OpType
from checkers.linearizable import check_operations_info, make_model
from checkers.linearizable.files import sibyl_operations
from checkers.linearizable.models import check_vocabulary
from checkers.linearizable.visualize import render_page

MODEL = "cas-register"
TIMEOUT_S = 20.0


def positions(history: Sequence[Op]) -> dict[int, int]:
    """The checker's time (1, 2, ...) of each client invoke and ok completion -> history index.

    The Sibyl reader ticks once per invoke and once per ok completion; a failed
    or indeterminate completion does not tick (checkers/linearizable/parsers.py).
    """
    out: dict[int, int] = {}
    tick = 0
    for op in history:
        if op.is_nemesis or op.process == "checker" or op.f == "replica-read":
            continue
        if op.type in (OpType.INVOKE, OpType.OK):
            tick += 1
            out[tick] = op.index
    return out


def embedded_view(history: Sequence[Op], title: str) -> str:
    """The view as an iframe ("" when the history is not a register history)."""
    try:
        parsed = sibyl_operations((op, op.index) for op in history)
        model = make_model(MODEL)
        check_vocabulary(MODEL, parsed.operations)
        _, info = check_operations_info(model, parsed.operations, TIMEOUT_S)
    except ValueError:
        return ""
    if not parsed.operations:
        return ""
    info.add_annotations(parsed.annotations)
    page = render_page(model, info, title)
    return (f'<iframe id="linearizability" title="linearizability view" '
            f'srcdoc="{escape(page, quote=True)}"></iframe>')  # fmt: skip
