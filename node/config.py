"""Node configuration: one TOML file per node, validated with errors that name the field.

Example::

    name = "n1"
    listen = "127.0.0.1:7001"
    data_dir = "/var/lib/sibyl/n1"
    seed = 1
    n = 3
    r = 2
    w = 2

    [[members]]
    name = "n1"
    addr = "127.0.0.1:7001"   # how *this* node reaches n1 (may be a proxy)
    weight = 1

`members` is the membership a node starts with (and its address book, which
wins over gossiped addresses). `routes` (same table shape, optional) adds
address-book entries for nodes that are not initial members: a node that joins
through seeds reaches its peers where its routes say (e.g. through fault
proxies), not at the addresses they gossip. `seeds` (member names or "host:port") are the
nodes it gossips with periodically; a node whose `members` lists only itself
and whose seeds name some other node joins the cluster through a seed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.modes import ConflictMode, QuorumMode
from node.ring import Member


class ConfigError(ValueError):
    """A bad config: the message names the file, the field and what is expected."""


@dataclass(frozen=True)
class Peer:
    """A cluster member and the address this node uses to reach it."""

    name: str
    host: str
    port: int
    weight: int = 1


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to run; see the module docstring for the file format."""

    name: str
    host: str
    port: int
    data_dir: Path
    members: tuple[Peer, ...]
    seed: int = 0
    n: int = 3
    r: int = 2
    w: int = 2
    partitions: int = 64
    conflict: ConflictMode = ConflictMode.SIBLINGS
    quorum: QuorumMode = QuorumMode.SLOPPY
    request_timeout_ms: int = 1000
    probe_interval_ms: int = 500
    handoff_interval_ms: int = 500
    antientropy_interval_ms: int = 1000
    max_clock_entries: int = 32
    read_repair: bool = True
    seeds: tuple[str, ...] = ()
    routes: tuple[Peer, ...] = ()
    gossip_interval_ms: int = 500
    seed_interval_ms: int = 2000
    secret_file: Path | None = None
    """The cluster secret (auth.py): when set, peers and admin commands must prove it."""
    require_client_auth: bool = False
    """With a secret: data clients must prove it too (the lab turns this on)."""

    def __post_init__(self) -> None:
        # Accept the config-file spellings too; every comparison is then against the enum.
        object.__setattr__(self, "conflict", ConflictMode(self.conflict))
        object.__setattr__(self, "quorum", QuorumMode(self.quorum))

    @property
    def ring_members(self) -> list[Member]:
        return [Member(p.name, p.weight) for p in self.members]


def parse_addr(text: Any, where: str) -> tuple[str, int]:
    """Splits "host:port"; raises ConfigError naming `where` when malformed."""
    if not isinstance(text, str) or ":" not in text:
        raise ConfigError(f'{where}: expected "host:port", got {text!r}')
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ConfigError(f'{where}: expected "host:port" with a port 1-65535, got {text!r}')
    return host, int(port)


_INTS = {
    "seed": (0, 2**63),
    "n": (1, 16),
    "r": (1, 16),
    "w": (1, 16),
    "partitions": (1, 1 << 16),
    "request_timeout_ms": (1, 600_000),
    "probe_interval_ms": (1, 600_000),
    "handoff_interval_ms": (1, 600_000),
    "antientropy_interval_ms": (0, 3_600_000),
    "max_clock_entries": (1, 10_000),
    "gossip_interval_ms": (1, 600_000),
    "seed_interval_ms": (1, 3_600_000),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "conflict": tuple(m.value for m in ConflictMode),
    "quorum": tuple(m.value for m in QuorumMode),
}


def _check_int(src: str, key: str, v: Any) -> int:
    lo, hi = _INTS[key]
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"{src}: field {key!r} must be an integer in [{lo}, {hi}], got {v!r}")
    return v


def _members(src: str, raw: Any, field_name: str = "members") -> tuple[Peer, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{src}: field {field_name!r} must be a non-empty array of tables")
    out = []
    for i, m in enumerate(raw):
        where = f"{src}: {field_name}[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise ConfigError(f"{where}: needs a string 'name'")
        host, port = parse_addr(m.get("addr"), f"{where}.addr")
        weight = m.get("weight", 1)
        if not isinstance(weight, int) or weight < 1:
            raise ConfigError(f"{where}.weight: must be a positive integer, got {weight!r}")
        out.append(Peer(m["name"], host, port, weight))
    return tuple(out)


def _seeds(src: str, raw: Any, members: tuple[Peer, ...]) -> tuple[str, ...]:
    """Seeds: each a member name from the table, or a "host:port" address."""
    what = 'an array of member names or "host:port" strings'
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ConfigError(f"{src}: field 'seeds' must be {what}, got {raw!r}")
    names = {m.name for m in members}
    for s in raw:
        if s not in names:
            try:
                parse_addr(s, "seed")
            except ConfigError:
                raise ConfigError(
                    f"{src}: field 'seeds': {s!r} is neither a member name nor \"host:port\""
                ) from None
    return tuple(raw)


def config_from_dict(raw: dict[str, Any], src: str = "<config>") -> NodeConfig:
    """Validates a parsed config; raises ConfigError naming `src` and the field."""
    for key in ("name", "listen", "data_dir", "members"):
        if key not in raw:
            raise ConfigError(f"{src}: missing required field {key!r}")
    if not isinstance(raw["name"], str) or not raw["name"]:
        raise ConfigError(f"{src}: field 'name' must be a non-empty string")
    host, port = parse_addr(raw["listen"], f"{src}: field 'listen'")
    members = _members(src, raw["members"])
    if raw["name"] not in {m.name for m in members}:
        raise ConfigError(f"{src}: 'members' must include this node ({raw['name']!r})")
    known = {"name", "listen", "data_dir", "members", "routes", "read_repair", "seeds",
             "secret_file", "require_client_auth", *_INTS, *_CHOICES}  # fmt: skip
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _INTS:
            kwargs[key] = _check_int(src, key, value)
        elif key in _CHOICES:
            if value not in _CHOICES[key]:
                raise ConfigError(
                    f"{src}: field {key!r} must be one of {_CHOICES[key]}, got {value!r}"
                )
            kwargs[key] = value
        elif key in ("read_repair", "require_client_auth"):
            if not isinstance(value, bool):
                raise ConfigError(f"{src}: field {key!r} must be true or false")
            kwargs[key] = value
        elif key == "secret_file":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{src}: field 'secret_file' must be a path string")
            kwargs[key] = Path(value)
        elif key == "seeds":
            kwargs[key] = _seeds(src, value, members)
        elif key == "routes":
            kwargs[key] = _members(src, value, "routes")
    unknown = sorted(k for k in raw if k not in known)
    if unknown:
        raise ConfigError(f"{src}: unknown field {unknown[0]!r}; known fields: {sorted(known)}")
    if not isinstance(raw["data_dir"], str):
        raise ConfigError(f"{src}: field 'data_dir' must be a path string")
    cfg = NodeConfig(raw["name"], host, port, Path(raw["data_dir"]), members, **kwargs)
    _check_quorum(src, cfg)
    return cfg


def _check_quorum(src: str, cfg: NodeConfig) -> None:
    if cfg.r > cfg.n or cfg.w > cfg.n:
        raise ConfigError(f"{src}: need r <= n and w <= n, got n={cfg.n} r={cfg.r} w={cfg.w}")
    if cfg.quorum is QuorumMode.STRICT and cfg.r + cfg.w <= cfg.n:
        raise ConfigError(f"{src}: quorum = \"strict\" needs r + w > n so that every read "
                          f"meets every write, got n={cfg.n} r={cfg.r} w={cfg.w}")  # fmt: skip
    if cfg.partitions & (cfg.partitions - 1):
        raise ConfigError(f"{src}: field 'partitions' must be a power of two, got {cfg.partitions}")


def load_config(path: str | Path) -> NodeConfig:
    """Reads and validates a node's TOML config file."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the config file: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return config_from_dict(raw, str(p))
