"""The HTML visualization: one self-contained page carrying the evidence."""

from __future__ import annotations

import json
import re
from pathlib import Path

from checkers.linearizable import (
    Annotation,
    CheckResult,
    Operation,
    check_operations_info,
    check_operations_verbose,
    visualize,
)
from checkers.linearizable.models import cas_register
from checkers.linearizable.visualize import page_data

OPS = [
    Operation(0, ("write", "x", 1), 0, None, 10),
    Operation(1, ("read", "x", None), 2, 1, 4),
    Operation(2, ("read", "x", None), 12, 0, 14),
    Operation(3, ("read", "y", None), 0, None, 1),
]


def test_the_page_is_self_contained_and_carries_the_evidence(tmp_path: Path) -> None:
    model = cas_register(0)
    result, info = check_operations_verbose(model, OPS)
    assert result is CheckResult.ILLEGAL
    info.add_annotations([Annotation(3, 11, "partition halves </script>")])
    out = visualize(model, info, tmp_path / "v.html", title="demo")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "<link" not in page
    assert page.count("</script>") == 1  # embedded data cannot close the script
    data = json.loads(re.search(r"const D = (.*?);\n", page).group(1).replace("<\\/", "</"))
    bad = data["partitions"][0]
    assert bad["result"] == "illegal" and bad["label"].endswith("(key x)")
    assert bad["ops"][bad["illegal"]]["d"] == "read[x]() -> 0"
    assert [op["lin"] for op in bad["ops"]] == [0, 1, -1]
    assert bad["ops"][0]["st"] == "1" and bad["partials"]
    assert bad["annotations"][0]["label"].startswith("partition halves")
    assert bad["ticks"] == 8  # its own 6 distinct times and the annotation's 2


def test_page_data_for_an_ok_history() -> None:
    model = cas_register(0)
    result, info = check_operations_info(model, OPS[:2])
    data = page_data(model, info)
    assert result is CheckResult.OK and data["result"] == "ok"
    assert data["partitions"][0]["illegal"] is None
    assert data["partitions"][0]["ticks"] == 4
