"""The netns lab: `sibyl lab up/down`, nothing routed off the machine, a short `sibyl run` on it.

Root only (CI runs as root): without root every test here skips, saying so. As
root a lab that cannot come up fails the test. Every lab is taken down by a
finalizer, also when a test fails; the last test checks nothing was left.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import netns
from harness.cli import main
from harness.cluster import free_ports
from harness.generator import DEFAULT_NEMESES, fault_schedule
from harness.inventory import HostSpec, load_inventory
from harness.ssh import SSHRemote
from tests.support.labs import needs_root, netns_lab

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[2]
SEED = 66  # its 16 s schedule holds a partition, a pause, a clock bump and a kill
KINDS = set(DEFAULT_NEMESES)  # sibyl run's default --nemesis: partition,kill,pause,clock


def in_ctl(code: str, ctl: str = "sibyl-ctl") -> subprocess.CompletedProcess[str]:
    """Runs Python `code` inside the lab's controller namespace."""
    return subprocess.run(["ip", "netns", "exec", ctl, sys.executable, "-c", code], cwd=REPO,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_lab_up_down_routes_nothing_off_the_machine(tmp_path: Path) -> None:
    needs_root("the netns lab")
    with netns_lab(tmp_path / "lab", 2) as inv:
        assert [h.name for h in inv.hosts] == ["n1", "n2"]
        assert load_inventory(tmp_path / "lab" / "inventory.toml") == inv
        for ns in ("sibyl-ctl", "sibyl-n1", "sibyl-n2"):
            routes = subprocess.run(["ip", "-n", ns, "route", "show", "default"],
                                    capture_output=True, text=True, check=True).stdout  # fmt: skip
            assert routes.strip() == "", f"{ns} has a default route: {routes}"
        # a lab address works from the controller's namespace; a wrong one is unreachable
        probe = ("import socket\nfor a in ('10.77.0.11', '192.0.2.1'):\n"
                 "    s = socket.socket(); s.settimeout(5)\n"
                 "    try: s.connect((a, 22)); print(a, 'ok')\n"
                 "    except OSError as e: print(a, e.strerror)\n")  # fmt: skip
        out = in_ctl(probe).stdout
        assert "10.77.0.11 ok" in out and "192.0.2.1 Network is unreachable" in out, out
        code = ("from harness.inventory import HostSpec\nfrom harness.ssh import SSHRemote\n"
                "try: SSHRemote(HostSpec('nX', '192.0.2.1'), connect_attempts=1)\n"
                "except Exception as e: print(e)\n")  # fmt: skip
        assert "host nX (192.0.2.1:22) is unreachable" in in_ctl(code).stdout
        assert "Network is unreachable" in in_ctl(code).stdout
        # a second lab is refused while this one is up
        assert main(["lab", "up", "--kind", "netns", "--nodes", "1", "--dir",
                     str(tmp_path / "other")]) == 254  # fmt: skip
        assert not (tmp_path / "other" / "inventory.toml").exists()
    assert {"sibyl-ctl", "sibyl-n1", "sibyl-n2"} & netns.existing_namespaces() == set()
    assert main(["lab", "down", "--dir", str(tmp_path / "lab")]) == 0  # idempotent


def test_sibyl_run_over_the_netns_lab(tmp_path: Path) -> None:
    """The CI run: 3 hosts over SSH, iptables partitions, kills, pauses, libfaketime clocks."""
    needs_root("a netns sibyl run")
    planned = fault_schedule(DEFAULT_NEMESES, ["n1", "n2", "n3"], 16.0, random.Random(SEED))
    assert {str(f.kind.value) for f in planned} == KINDS
    started = time.monotonic()
    with netns_lab(tmp_path / "lab", 3) as inv:
        assert main(["lab", "down", "--dir", "/nonexistent-dir"]) == 0
        argv = [sys.executable, "-m", "harness.cli", "run", "--lab", "netns", "--inventory",
                str(inv.path), "--time-limit", "16", "--seed", str(SEED), "--quiesce", "2",
                "--store", str(tmp_path / "store")]  # fmt: skip
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=200)
        print(done.stdout[-4000:], done.stderr[-4000:])
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        run = (tmp_path / "store" / "latest").resolve()
        results = json.loads((run / "results.json").read_text())
        assert results["valid"] is True and results["stats"]["ok"] > 100
        realised = json.loads((run / "schedule.json").read_text())["realised"]
        assert {f["kind"] for f in realised} == KINDS
        for name in ("n1", "n2", "n3"):  # logs collected from the hosts
            assert (run / "nodes" / f"{name}.log").stat().st_size > 0
        _nothing_left_in(inv.controller_netns, ["sibyl-n1", "sibyl-n2", "sibyl-n3"])
    print(f"netns CI run: {time.monotonic() - started:.1f} s including lab up/down")


def _nothing_left_in(ctl: str, hosts: list[str]) -> None:
    """After a run: no SIBYL chain and no tc classes on any host, no process but sshd."""
    for ns in hosts:
        rules = subprocess.run(["ip", "netns", "exec", ns, "iptables", "-S"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "SIBYL" not in rules, f"{ns}: {rules}"
        qdisc = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", "eth0"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "htb" not in qdisc and "netem" not in qdisc, qdisc
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                              check=True).stdout.split()  # fmt: skip
        comms = {Path(f"/proc/{p}/comm").read_text().strip() for p in pids
                 if Path(f"/proc/{p}/comm").exists()}  # fmt: skip
        assert comms <= {"sshd"}, f"{ns} still runs {comms}"


def test_bad_inventory_and_wrong_lab_exit_254(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:  # fmt: skip
    bad = tmp_path / "hosts.toml"
    bad.write_text('[[hosts]]\nname = "n1"\naddress = "10.0.0.1"\nusr = "root"\n')
    assert main(["run", "--lab", "ssh", "--inventory", str(bad)]) == 254
    err = capsys.readouterr().err
    assert str(bad) in err and "unknown field 'usr'" in err and "n1" in err
    assert main(["run", "--lab", "ssh"]) == 254
    assert "--inventory" in capsys.readouterr().err
    bad.write_text('kind = "vagrant"\n[[hosts]]\nname = "n1"\naddress = "10.0.0.1"\n')
    assert main(["run", "--lab", "netns", "--inventory", str(bad)]) == 254
    assert "field 'kind'" in capsys.readouterr().err


def test_more_replicas_than_hosts_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "hosts.toml"
    hosts.write_text('[[hosts]]\nname = "n1"\naddress = "127.0.0.1"\n')
    assert main(["run", "--lab", "ssh", "--inventory", str(hosts), "--n", "2"]) == 254
    assert f"--n 2 needs 1 <= n <= the hosts of {hosts} (1)" in capsys.readouterr().err


def test_an_unreachable_host_exits_254_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_ports(1)[0]  # nothing listens there
    hosts = tmp_path / "hosts.toml"
    hosts.write_text(f'[[hosts]]\nname = "n1"\naddress = "127.0.0.1"\nport = {port}\n')
    argv = ["run", "--lab", "ssh", "--inventory", str(hosts), "--store", str(tmp_path / "s"),
            "--n", "1", "--r", "1", "--w", "1"]  # fmt: skip
    assert main([*argv, "--time-limit", "1"]) == 254
    out = capsys.readouterr().out.replace("\n", "")
    assert f"host n1 (127.0.0.1:{port}) is unreachable after 3 attempts" in out
    results = json.loads((tmp_path / "s" / "latest" / "results.json").read_text())
    assert "unreachable" in results["error"]


def test_ssh_errors_name_the_host_and_the_fix(tmp_path: Path) -> None:
    needs_root("SSH errors against a real sshd")
    from harness.sshd import generate_key
    from tests.support.labs import loopback_sshd

    with loopback_sshd(tmp_path / "lab") as sshd:
        t = sshd.target
        SSHRemote(t).close()  # the right key and host key work
        generate_key(tmp_path / "other_key")
        with pytest.raises(Exception, match=r"host lo: user root was refused with key .*other_key"):
            SSHRemote(_with(t, key=str(tmp_path / "other_key")))
        other = " ".join((tmp_path / "other_key.pub").read_text().split()[:2])
        (tmp_path / "kh_wrong").write_text(f"[127.0.0.1]:{t.port} {other}\n")
        with pytest.raises(Exception, match="does not match the one in .*kh_wrong.*ssh-keygen"):
            SSHRemote(_with(t, known_hosts=str(tmp_path / "kh_wrong")))
        empty = tmp_path / "kh_empty"
        with pytest.raises(Exception, match="is not in .*kh_empty.*accept_new_host_key"):
            SSHRemote(_with(t, known_hosts=str(empty)))
        SSHRemote(_with(t, known_hosts=str(empty), accept_new_host_key=True)).close()
        SSHRemote(_with(t, known_hosts=str(empty))).close()  # recorded on first use
        closed = _with(t, port=free_ports(1)[0])
        with pytest.raises(Exception, match=r"host lo \(127.0.0.1:\d+\) is unreachable after 2"):
            SSHRemote(closed, connect_attempts=2)


def _with(t: HostSpec, **changes: object) -> HostSpec:
    from dataclasses import replace

    return replace(t, **changes)  # type: ignore[arg-type]
