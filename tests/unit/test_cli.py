"""The `sibyl` command line: help that explains, one name per setting, a version."""

from __future__ import annotations

import argparse
import io
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from harness.cli import _parsers, build_parser
from harness.errors import EXIT_CODES_HELP
from harness.generator import ScheduleError, check_cluster_size, fault_schedule
from harness.partitions import MIN_NODES, Shape, cut_for
from harness.runner import RunConfig


def options() -> list[tuple[str, argparse.ArgumentParser, argparse.Action]]:
    out = []
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings and not isinstance(
                action, argparse._HelpAction | argparse._VersionAction
            ):
                out.append((parser.prog, parser, action))
    return out


@pytest.mark.parametrize(
    ("prog", "parser", "action"), options(), ids=[f"{p}:{a.dest}" for p, _, a in options()]
)
def test_every_option_has_help_and_shows_its_default(
    prog: str, parser: argparse.ArgumentParser, action: argparse.Action
) -> None:
    assert action.help, f"{prog} {action.option_strings[0]} has no help"
    block = parser._get_formatter()._format_action(action)
    if action.default not in (None, False, argparse.SUPPRESS, []):
        assert "default" in block, f"{prog} {action.option_strings[0]} hides its default"


def test_every_command_lists_the_exit_codes() -> None:
    for parser in _parsers(build_parser()):
        assert parser.epilog, parser.prog
    help_text = " ".join(build_parser().format_help().split())
    assert EXIT_CODES_HELP in help_text


def test_run_and_cluster_up_name_the_quorum_mode_alike() -> None:
    parsers = {p.prog: p for p in _parsers(build_parser())}
    for prog in ("sibyl run", "sibyl cluster up"):
        opts = {o for a in parsers[prog]._actions for o in a.option_strings}
        assert {"--mode", "--conflict", "--n", "--r", "--w", "--nodes"} <= opts, prog
        assert "--quorum" not in opts, prog


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("sibyl 0.")


def test_a_planted_bug_shows_in_the_test_name() -> None:
    assert RunConfig().test == "cart-sloppy-siblings"
    planted = RunConfig(intercepts=("tests.intercepts.sync_overwrites",))
    assert planted.test == "cart-sloppy-siblings-intercept-sync_overwrites"


@given(count=st.integers(min_value=2, max_value=7), seed=st.integers(0, 2**32))
def test_the_generator_draws_only_shapes_the_cluster_can_have(count: int, seed: int) -> None:
    nodes = [f"n{i + 1}" for i in range(count)]
    faults = fault_schedule(("partition",), nodes, 60.0, random.Random(seed))
    assert faults
    for f in faults:
        shape = Shape(f.params["shape"])
        assert MIN_NODES[shape] <= count
        cut_for(shape, nodes, random.Random(seed))  # raises if the shape cannot be drawn


def test_three_nodes_never_get_a_majorities_ring() -> None:
    nodes = ["n1", "n2", "n3"]
    shapes = {
        f.params["shape"]
        for seed in range(200)
        for f in fault_schedule(("partition",), nodes, 30.0, random.Random(seed))
    }
    assert "majorities-ring" not in shapes and "bridge" in shapes


def test_a_partition_needs_two_nodes() -> None:
    check_cluster_size(("partition",), 2)
    check_cluster_size(("kill",), 1)
    with pytest.raises(ScheduleError, match="at least 2 nodes"):
        check_cluster_size(("partition",), 1)


def test_the_rerun_command_and_run_path_are_never_wrapped(tmp_path: Path) -> None:
    from harness.engine import Progress
    from harness.runner import _summary

    command = "sibyl run " + " ".join(f"--option-{i} value-{i}" for i in range(12))
    run_dir = tmp_path / ("deep-" * 12) / "cart-sloppy-siblings" / "20260101T000000"
    stats = {"ops_completed": 1, "ok": 1, "fail": 0, "info": 0, "ops_per_s": 1.0}
    doc = {"valid": True, "command": command, "stats": stats}
    out = io.StringIO()
    _summary(Console(file=out, width=80, force_terminal=False), doc, {}, run_dir, Progress())
    lines = out.getvalue().splitlines()
    assert f"rerun: {command}" in lines
    assert any(line.endswith(str(run_dir)) for line in lines)
