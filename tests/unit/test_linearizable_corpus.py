"""Every row of the Porcupine and Knossos manifests gets its expected verdict.

The manifests are read at test time; the corpora ship in `tests/corpora`
(copied from upstream with their licences; see the READMEs there).

Rows with no definite expected verdict, or that took Porcupine at least
`UNDECIDED_BY_PORCUPINE_S`, are stress rows: UNKNOWN within a short budget is
accepted, and so is the expected verdict if one is stated; any other verdict
fails. Every other row must get exactly its verdict, including the `c50`
`kv-nopartition` rows that Porcupine cannot decide (no `porcupine_seconds`):
the kv-nopartition model's footprint hint lets the checker split them.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from checkers.linearizable import UNKNOWN, CheckResult, check_operations, load_history, make_model
from checkers.linearizable.files import parse_initial_state

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPORA = REPO_ROOT / "tests" / "corpora"
VERDICTS = {"linearizable": CheckResult.OK, "not-linearizable": CheckResult.ILLEGAL}
UNDECIDED_BY_PORCUPINE_S = 10.0
ROW_TIMEOUT_S = 60.0
STRESS_TIMEOUT_S = 2.0


def _rows() -> list[Any]:
    params = []
    for corpus in ("porcupine", "knossos"):
        manifest = CORPORA / corpus / "MANIFEST.tsv"
        if not manifest.is_file():
            return [pytest.param(None, None, id="corpora-missing")]
        with manifest.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                params.append(pytest.param(corpus, row, id=f"{row['path']}[{row['model']}]"))
    return params


def _is_stress_row(row: dict[str, str]) -> bool:
    if row["expected_verdict"] not in VERDICTS:
        return True
    try:
        return float(row["porcupine_seconds"]) >= UNDECIDED_BY_PORCUPINE_S
    except (KeyError, ValueError):
        return False  # Porcupine did not decide it; we must


@pytest.mark.parametrize(("corpus", "row"), _rows())
def test_manifest_row(corpus: str | None, row: dict[str, str] | None) -> None:
    if corpus is None or row is None:
        pytest.fail(
            f"the test corpora are missing: expected {CORPORA}/{{porcupine,knossos}}/MANIFEST.tsv "
            "(they ship with the repository: is the checkout complete?)"
        )
    history = load_history(CORPORA / corpus / row["path"])
    model = make_model(row["model"], parse_initial_state(row.get("initial_state") or None))
    expected = VERDICTS.get(row["expected_verdict"])
    if _is_stress_row(row):
        result = check_operations(model, history.operations, timeout=STRESS_TIMEOUT_S)
        assert result in (CheckResult.UNKNOWN, expected), (row["path"], result)
        return
    result = check_operations(model, history.operations, timeout=ROW_TIMEOUT_S)
    assert result is expected, (row["path"], row["model"], result)


def op_output_known(output: Any) -> bool:
    return output is not UNKNOWN and output is not None


def _linearizable_rows() -> list[Any]:
    return [
        p
        for p in _rows()
        if p.values[1] is None
        or (p.values[1]["expected_verdict"] == "linearizable" and not _is_stress_row(p.values[1]))
    ]


@pytest.mark.parametrize(("corpus", "row"), _linearizable_rows())
def test_a_linearizable_row_with_one_read_of_a_value_never_written_is_illegal(
    corpus: str | None, row: dict[str, str] | None
) -> None:
    """Real histories, mutated: the middle read that returned a value now returns junk."""
    if corpus is None or row is None:
        pytest.fail(f"the test corpora are missing: expected them in {CORPORA}")
    history = load_history(CORPORA / corpus / row["path"]).operations
    model = make_model(row["model"], parse_initial_state(row.get("initial_state") or None))
    reads = [i for i, op in enumerate(history) if op.input[0] in ("read", "get")]
    reads = [i for i in reads if op_output_known(history[i].output)]
    if not reads:
        return  # nothing to mutate (e.g. a history of writes only)
    i = reads[len(reads) // 2]
    junk = "never written" if isinstance(history[i].output, str) else -12345
    history[i] = dataclasses.replace(history[i], output=junk)
    assert check_operations(model, history, timeout=ROW_TIMEOUT_S) is CheckResult.ILLEGAL
