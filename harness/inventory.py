"""The inventory: which hosts a remote lab has and how to reach them (a TOML file).

    kind = "ssh"                 # ssh | netns | vagrant (who made it; all reached by SSH)
    controller_netns = ""        # netns only: the harness re-executes itself in this namespace

    [defaults]                   # optional; any host field, applied to every host
    user = "root"
    key = "~/.ssh/id_ed25519"

    [[hosts]]
    name = "n1"                  # the node's name (n1, n2, ...); unique
    address = "10.0.0.11"        # where sshd and the node listen
    port = 22                    # sshd's port
    user = "root"                # not root: needs passwordless sudo
    key = "~/.ssh/id_ed25519"    # the private key (key authentication only)
    known_hosts = "~/.ssh/known_hosts"
    accept_new_host_key = false  # true: trust a host's key the first time and record it
    dir = "/var/lib/sibyl"       # where sibyl is deployed on the host
    node_port = 7000             # where the node listens
    python = "python3"           # the host's Python (3.11 or newer, with venv)

`load_inventory(path)` returns an `Inventory` or raises `InventoryError`, whose
message names the file, the host and the field. docs/labs.md documents the format.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

KINDS = ("ssh", "netns", "vagrant")


class InventoryError(ValueError):
    """A bad inventory: the message names the file, the host and the field."""


@dataclass(frozen=True)
class HostSpec:
    """One host of a remote lab (see the module docstring for each field)."""

    name: str
    address: str
    port: int = 22
    user: str = "root"
    key: str = "~/.ssh/id_ed25519"
    known_hosts: str = "~/.ssh/known_hosts"
    accept_new_host_key: bool = False
    dir: str = "/var/lib/sibyl"
    node_port: int = 7000
    python: str = "python3"


@dataclass(frozen=True)
class Inventory:
    """The hosts of a lab, in order, and where the controller must run."""

    path: Path
    kind: str
    hosts: tuple[HostSpec, ...]
    controller_netns: str = ""

    def with_accept_new_host_key(self) -> Inventory:
        hosts = tuple(replace(h, accept_new_host_key=True) for h in self.hosts)
        return replace(self, hosts=hosts)


_TYPES: dict[str, type] = {f.name: (int if f.type == "int" else bool if f.type == "bool"
                                    else str) for f in fields(HostSpec)}  # fmt: skip
_REQUIRED = ("name", "address")


def load_inventory(path: str | Path) -> Inventory:
    """Reads and validates an inventory file; raises InventoryError naming the problem."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except OSError as e:
        raise InventoryError(f"inventory {p}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise InventoryError(f"inventory {p}: not valid TOML ({e})") from None
    return parse_inventory(raw, p)


def parse_inventory(raw: dict[str, Any], path: Path) -> Inventory:
    """Validates a decoded inventory (see the module docstring)."""
    where = f"inventory {path}"
    _no_unknown(raw, {"kind", "controller_netns", "defaults", "hosts"}, where)
    kind = raw.get("kind", "ssh")
    if kind not in KINDS:
        raise InventoryError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}, "
                             f"got {kind!r}")  # fmt: skip
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InventoryError(f"{where}: [defaults] must be a table of host fields")
    _check_fields(defaults, f"{where} [defaults]", required=())
    rows = raw.get("hosts")
    if not isinstance(rows, list) or not rows:
        raise InventoryError(f"{where}: needs at least one [[hosts]] table with name and address")
    hosts = tuple(_host({**defaults, **row}, f"{where} host #{i + 1}")
                  for i, row in enumerate(rows))  # fmt: skip
    _unique(hosts, where)
    netns = raw.get("controller_netns", "")
    if not isinstance(netns, str):
        raise InventoryError(f"{where}: field 'controller_netns' must be a string")
    return Inventory(path, kind, hosts, netns)


def _host(row: Any, where: str) -> HostSpec:
    if not isinstance(row, dict):
        raise InventoryError(f"{where}: must be a table")
    if isinstance(row.get("name"), str):
        where = f"{where} ({row['name']})"
    _check_fields(row, where, _REQUIRED)
    host = HostSpec(**row)
    if not 0 < host.port < 65536 or not 0 < host.node_port < 65536:
        raise InventoryError(f"{where}: fields 'port' and 'node_port' must be 1-65535")
    if not host.dir.startswith("/"):
        raise InventoryError(f"{where}: field 'dir' must be an absolute path, got {host.dir!r}")
    return host


def _check_fields(row: dict[str, Any], where: str, required: tuple[str, ...]) -> None:
    _no_unknown(row, set(_TYPES), where)
    for name in required:
        if name not in row:
            raise InventoryError(f"{where}: field '{name}' is missing")
    for name, value in row.items():
        want = _TYPES[name]
        if type(value) is not want:
            raise InventoryError(f"{where}: field '{name}' must be {want.__name__}, "
                                 f"got {value!r}")  # fmt: skip


def _no_unknown(row: dict[str, Any], known: set[str], where: str) -> None:
    for name in row:
        if name not in known:
            raise InventoryError(f"{where}: unknown field '{name}' (known: "
                                 f"{', '.join(sorted(known))})")  # fmt: skip


def _unique(hosts: tuple[HostSpec, ...], where: str) -> None:
    seen: set[str] = set()
    for h in hosts:
        if h.name in seen:
            raise InventoryError(f"{where}: host name {h.name!r} appears twice (field 'name')")
        seen.add(h.name)


def to_toml(inv: Inventory) -> str:
    """The inventory as TOML (what `sibyl lab up` writes); load_inventory reads it back."""
    import json

    lines = [f"kind = {json.dumps(inv.kind)}"]
    if inv.controller_netns:
        lines.append(f"controller_netns = {json.dumps(inv.controller_netns)}")
    for h in inv.hosts:
        lines.append("\n[[hosts]]")
        lines.extend(f"{f.name} = {json.dumps(getattr(h, f.name))}" for f in fields(HostSpec))
    return "\n".join(lines) + "\n"
