"""Config errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import ConfigError, load_config

GOOD = """
name = "n1"
listen = "127.0.0.1:7001"
data_dir = "/tmp/n1"
{extra}
[[members]]
name = "n1"
addr = "127.0.0.1:7001"
"""


def write(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "node.toml"
    p.write_text(GOOD.format(extra=extra))
    return p


def test_good_config_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "n = 1\nr = 1\nw = 1"))
    assert (cfg.name, cfg.port, cfg.n) == ("n1", 7001, 1)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('n = "three"', "'n'"),
        ("r = 0", "'r'"),
        ('conflict = "newest"', "'conflict'"),
        ("colour = 1", "'colour'"),
        ("n = 1\nr = 2", "r <= n"),
        ("partitions = 48", "'partitions'"),
    ],
)
def test_bad_field_is_named_with_the_file(tmp_path: Path, extra: str, field: str) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value) and field in str(e.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text("name = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_bad_member_address(tmp_path: Path) -> None:
    p = tmp_path / "node.toml"
    p.write_text(GOOD.format(extra="").replace('addr = "127.0.0.1:7001"', 'addr = "nowhere"'))
    with pytest.raises(ConfigError, match=r"members\[0\]\.addr"):
        load_config(p)


def test_strict_mode_needs_overlapping_quorums(tmp_path: Path) -> None:
    path = write(tmp_path, 'quorum = "strict"\nn = 3\nr = 1\nw = 2')
    with pytest.raises(ConfigError, match="r \\+ w > n"):
        load_config(path)
