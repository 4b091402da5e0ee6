"""The 50-client kv history generator: its verdicts hold (brute force on small
histories), and the shipped Sibyl corpus is exactly what it generates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizable import CheckResult, check_operations, load_history
from checkers.linearizable.models import kv, kv_nopartition
from tests.support.brute_force import brute_force
from tests.support.kv_histories import CORPUS, KvConfig, Points, generate, to_edn, write_corpus

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpora" / "sibyl"

small = st.builds(
    KvConfig,
    clients=st.integers(2, 4),
    ops_per_client=st.integers(1, 2),
    keys=st.integers(1, 2),
    put_p=st.sampled_from([0.0, 0.2]),
    get_p=st.sampled_from([0.3, 0.5]),
    points=st.sampled_from(list(Points)),
)


@settings(max_examples=150, deadline=None)
@given(small, st.integers(0, 2**32 - 1))
def test_a_generated_history_is_linearizable(config: KvConfig, seed: int) -> None:
    ops = generate(config, seed)
    assert brute_force(kv(), ops)
    assert check_operations(kv_nopartition(), ops) is CheckResult.OK


@settings(max_examples=150, deadline=None)
@given(small, st.integers(0, 2**32 - 1))
def test_a_stale_history_is_not_linearizable(config: KvConfig, seed: int) -> None:
    try:
        ops = generate(dataclasses.replace(config, stale=True), seed)
    except ValueError:  # no get could be spoiled in so small a history
        return
    assert not brute_force(kv(), ops)
    assert check_operations(kv_nopartition(), ops) is CheckResult.ILLEGAL


def test_stale_histories_are_generated_often_enough_to_test() -> None:
    made = 0
    for seed in range(40):
        try:
            generate(KvConfig(clients=3, ops_per_client=2, keys=1, put_p=0.0), seed)
            generate(KvConfig(clients=3, ops_per_client=2, keys=1, put_p=0.0, stale=True), seed)
            made += 1
        except ValueError:
            pass
    assert made >= 10


def test_the_edn_text_reads_back_as_the_same_history(tmp_path: Path) -> None:
    ops = generate(KvConfig(clients=5, ops_per_client=4, keys=2), 7)
    path = tmp_path / "h.edn"
    path.write_text(to_edn(ops), encoding="utf-8")
    back = load_history(path).operations
    assert [(o.client_id, o.input, o.output) for o in back] == [
        (o.client_id, o.input, o.output) for o in ops
    ]


def test_the_shipped_corpus_is_what_the_generator_writes(tmp_path: Path) -> None:
    if not (CORPUS_DIR / "MANIFEST.tsv").is_file():
        pytest.fail(f"the Sibyl corpus is missing: expected {CORPUS_DIR}/MANIFEST.tsv")
    write_corpus(tmp_path)
    for name in ["MANIFEST.tsv", *(path for path, _, _ in CORPUS)]:
        assert (tmp_path / name).read_bytes() == (CORPUS_DIR / name).read_bytes(), name
