"""Inventory files: what is accepted, and errors that name the file, the host and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.inventory import HostSpec, InventoryError, load_inventory, to_toml

GOOD = """
kind = "ssh"
[defaults]
user = "sibyl"
key = "~/.ssh/lab"
[[hosts]]
name = "n1"
address = "10.0.0.11"
[[hosts]]
name = "n2"
address = "10.0.0.12"
port = 2222
user = "root"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    return path


def test_defaults_apply_and_hosts_override(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, GOOD))
    assert inv.hosts == (
        HostSpec("n1", "10.0.0.11", user="sibyl", key="~/.ssh/lab"),
        HostSpec("n2", "10.0.0.12", port=2222, user="root", key="~/.ssh/lab"),
    )
    assert load_inventory(write(tmp_path, to_toml(inv))).hosts == inv.hosts


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[hosts]]\nname = "n1"\n', r"host #1 \(n1\): field 'address' is missing"),
        ('[[hosts]]\nname = "n1"\naddress = "a"\nprot = 22\n', r"\(n1\): unknown field 'prot'"),
        ('[[hosts]]\nname = "n1"\naddress = "a"\nport = "22"\n', r"field 'port' must be int"),
        ('[[hosts]]\nname = "n1"\naddress = "a"\nport = 0\n', r"'port' and 'node_port' must be"),
        ('[[hosts]]\nname = "n1"\naddress = "a"\ndir = "rel"\n', r"'dir' must be an absolute path"),
        ('kind = "docker"\n[[hosts]]\nname = "n1"\naddress = "a"\n', r"field 'kind' must be one"),
        ("hosts = []\n", r"needs at least one \[\[hosts\]\]"),
        (
            '[defaults]\nusr = "x"\n[[hosts]]\nname = "n1"\naddress = "a"\n',
            r"\[defaults\]: unknown field 'usr'",
        ),
        (
            '[[hosts]]\nname = "n1"\naddress = "a"\n[[hosts]]\nname = "n1"\naddress = "b"\n',
            r"host name 'n1' appears twice",
        ),
        ("[[hosts]\n", r"not valid TOML"),
    ],
)
def test_bad_inventories_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError, match=message) as info:
        load_inventory(path)
    assert str(path) in str(info.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"missing.toml: cannot read it"):
        load_inventory(tmp_path / "missing.toml")
