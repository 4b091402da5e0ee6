"""`sibyl lab up|down`: bring a netns or vagrant lab up (writing DIR/inventory.toml), or down.

Also the part of `sibyl run --lab ...` that happens before the run: the inventory
is read and checked (exit 254 naming the file and field), and for a netns lab the
command re-executes itself inside the lab's controller namespace, because only
there are the lab's addresses reachable (and nothing else is).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness.inventory import InventoryError, load_inventory
from harness.netns import LabError, current_netns_is

BAD_INPUT = 254
LABS = ("local", "netns", "vagrant", "ssh")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="bring a netns or vagrant lab up or down",
                       description="Bring up hosts for `sibyl run --lab KIND --inventory "
                       "DIR/inventory.toml`, or down again. See docs/labs.md.")  # fmt: skip
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    up = verbs.add_parser("up", help="create the lab and write DIR/inventory.toml")
    up.add_argument(
        "--kind",
        choices=("netns", "vagrant"),
        required=True,
        help="netns: namespaces with sshd on this machine (root); vagrant: VMs",
    )
    up.add_argument("--nodes", type=int, default=5, help="how many hosts (default 5)")
    up.add_argument("--dir", required=True, help="where the lab keeps its files")
    up.set_defaults(func=_up)
    down = verbs.add_parser("down", help="remove exactly what `lab up` created (idempotent)")
    down.add_argument("--dir", required=True, help="the --dir given to `lab up`")
    down.set_defaults(func=_down)


def _up(args: argparse.Namespace) -> int:
    try:
        if args.kind == "netns":
            from harness import netns

            inv = netns.up(Path(args.dir), args.nodes)
        else:
            from harness import vagrant_lab

            inv = vagrant_lab.up(Path(args.dir), args.nodes)
    except (LabError, InventoryError) as e:
        print(f"sibyl lab up: {e}", file=sys.stderr)
        return BAD_INPUT
    names = ", ".join(f"{h.name}={h.address}" for h in inv.hosts)
    print(f"{args.kind} lab up: {names}\ninventory: {inv.path}\n"
          f"run:  sibyl run --lab {args.kind} --inventory {inv.path}\n"
          f"down: sibyl lab down --dir {args.dir}")  # fmt: skip
    return 0


def _down(args: argparse.Namespace) -> int:
    from harness import netns, vagrant_lab

    try:
        removed = netns.down(Path(args.dir)) + vagrant_lab.down(Path(args.dir))
    except LabError as e:
        print(f"sibyl lab down: {e}", file=sys.stderr)
        return BAD_INPUT
    print(f"removed: {', '.join(removed)}" if removed else f"nothing to remove in {args.dir}")
    return 0


def remote_prelude(lab: str, inventory: str, argv: list[str]) -> int | None:
    """Checks `sibyl run --lab/--inventory` before anything starts: None to go on
    here, else the exit status (254 for a bad inventory, or the status of the run
    re-executed inside the netns lab's controller namespace with `argv`)."""
    if lab == "local":
        if inventory:
            print("sibyl run: --inventory needs --lab netns, vagrant or ssh", file=sys.stderr)
            return BAD_INPUT
        return None
    if not inventory:
        print(f"sibyl run: --lab {lab} needs --inventory FILE (`sibyl lab up` writes one)",
              file=sys.stderr)  # fmt: skip
        return BAD_INPUT
    try:
        inv = load_inventory(inventory)
        check_names(inv.hosts, inventory)
    except InventoryError as e:
        print(f"sibyl run: {e}", file=sys.stderr)
        return BAD_INPUT
    if lab != "ssh" and inv.kind != lab:
        print(f"sibyl run: inventory {inventory}: field 'kind' is {inv.kind!r}, but --lab is "
              f"{lab!r}", file=sys.stderr)  # fmt: skip
        return BAD_INPUT
    if inv.controller_netns and not current_netns_is(inv.controller_netns):
        from harness.deploy import prebuild_for_local_hosts
        from harness.remote import RemoteError

        try:  # the lab's namespace has no network: fetch what the deploy needs first
            prebuild_for_local_hosts(sorted({h.python for h in inv.hosts}))
        except RemoteError as e:
            print(f"sibyl run: {e}", file=sys.stderr)
            return BAD_INPUT
        return _reexec(inv.controller_netns, inventory, argv)
    return None


def check_names(hosts: tuple, inventory: str) -> None:
    """Node names must be n1..nN in order (fault schedules name nodes so)."""
    for i, host in enumerate(hosts, 1):
        if host.name != f"n{i}":
            raise InventoryError(
                f"inventory {inventory} host #{i}: field 'name' must be "
                f"'n{i}' (hosts are n1..nN in order), got {host.name!r}"
            )


def _reexec(netns: str, inventory: str, argv: list[str]) -> int:
    if os.geteuid() != 0:
        print(f"sibyl run: the netns lab of {inventory} needs root (the run enters the "
              f"namespace {netns})", file=sys.stderr)  # fmt: skip
        return BAD_INPUT
    if not Path(f"/run/netns/{netns}").exists():
        print(
            f"sibyl run: inventory {inventory} names controller_netns {netns!r}, which does "
            "not exist: bring the lab up with `sibyl lab up --kind netns`",
            file=sys.stderr,
        )
        return BAD_INPUT
    cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "harness.cli", *argv]
    return subprocess.call(cmd)
