"""Deploy Sibyl's node to hosts that may have no internet: a wheel, a wheelhouse, a venv.

Once per run, on the controller, `build_artifacts` makes a wheel of this checkout
(`pip wheel` on a clean copy of the sources) and a wheelhouse of the node's
runtime dependencies for each Python version the hosts run (`pip download`;
both are cached by content under `~/.cache/sibyl/deploy`). `deploy_all` then, for
every host in parallel (at most `parallel` at once):

1. preflight: python3 with venv, passwordless sudo unless the user is root, and
   enough free disk space; each failure is one RemoteError naming host and fix;
2. uploads the wheel and the wheelhouse to `DIR/wheels/`;
3. creates `DIR/venv` (without pip) and installs with `pip install --no-index`,
   running pip from its wheel (nothing is fetched by the host);
4. records the wheel's hash in `DIR/venv/.sibyl-deployed`, so a host that already
   has this exact build is skipped.

Nothing is left half-deployed: when any host fails, the hosts this call installed
to get their `venv` and `wheels` removed again, and the first error is raised.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.inventory import HostSpec
from harness.remote import Remote, RemoteError

#: What the node imports at runtime besides the standard library, and pip, which
#: runs from its wheel (a venv made without pip is 0.1 s instead of ~6 s).
NODE_REQUIREMENTS = ("msgpack", "uvloop", "mypy_extensions", "pip")
PACKAGES = ("native", "node", "harness", "checkers", "workloads")
NEEDED_MB = 60  # the venv plus the wheels, with room for the node's data and logs
CACHE = Path("~/.cache/sibyl/deploy").expanduser()


@dataclass(frozen=True)
class Artifacts:
    """What every host installs: the wheel and, per Python version, the wheelhouse."""

    wheel: Path
    wheelhouses: dict[str, list[Path]]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.wheel.read_bytes()).hexdigest()[:16]


def source_root() -> Path:
    """The checkout this harness runs from (it must hold pyproject.toml)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file():
        raise RemoteError(f"deploying needs Sibyl's source checkout; none at {root}")
    return root


def build_artifacts(pythons: Sequence[str], cache: Path = CACHE) -> Artifacts:
    """Builds (or reuses, by content) the wheel, and a wheelhouse per Python version."""
    root = source_root()
    digest = _source_digest(root)
    wheel_dir = cache / f"wheel-{digest}"
    if not list(wheel_dir.glob("*.whl")):
        _build_wheel(root, wheel_dir)
    houses = {v: _wheelhouse(v, cache / f"wheelhouse-{v}-{_pins_digest()}") for v in pythons}
    return Artifacts(next(wheel_dir.glob("*.whl")), houses)


def prebuild_for_local_hosts(pythons: Sequence[str], cache: Path = CACHE) -> Artifacts:
    """Builds the artifacts for hosts that run this machine's interpreters (`pythons`,
    as the inventory names them): the netns lab does this before entering its
    namespace, where there is no network to fetch anything from."""
    versions = set()
    for python in pythons:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        if done.returncode != 0:
            raise RemoteError(f"{python} does not run on this machine: {done.stderr.strip()}")
        versions.add(done.stdout.strip())
    return build_artifacts(sorted(versions), cache)


def _source_digest(root: Path) -> str:
    h = hashlib.sha256((root / "pyproject.toml").read_bytes())
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _build_wheel(root: Path, out: Path) -> None:
    """`pip wheel` on a copy holding only the packaged sources (no stale build/ dir)."""
    with tempfile.TemporaryDirectory(prefix="sibyl-wheel-") as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for pkg in PACKAGES:
            shutil.copytree(root / pkg, src / pkg, ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copyfile(root / name, src / name)
        _pip("wheel", "--no-deps", "-w", str(Path(tmp) / "out"), str(src))
        out.mkdir(parents=True, exist_ok=True)
        for whl in (Path(tmp) / "out").glob("*.whl"):
            shutil.copyfile(whl, out / whl.name)


def _pins() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in NODE_REQUIREMENTS]


def _pins_digest() -> str:
    return hashlib.sha256(" ".join(_pins()).encode()).hexdigest()[:12]


def _wheelhouse(python: str, dest: Path) -> list[Path]:
    """Binary wheels of the node's pinned requirements for CPython `python` ("3.11")."""
    if len(list(dest.glob("*.whl"))) < len(NODE_REQUIREMENTS):
        dest.mkdir(parents=True, exist_ok=True)
        _pip("download", "--only-binary=:all:", "--python-version", python,
             "--implementation", "cp", "-d", str(dest), *_pins())  # fmt: skip
    return sorted(dest.glob("*.whl"))


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise RemoteError(f"pip {args[0]} on the controller failed: {done.stderr.strip()[-800:]}")


# --- on each host ------------------------------------------------------------------------


def preflight(remote: Remote, host: HostSpec) -> str:
    """Checks what a deploy needs on the host; returns its Python version ("3.11")."""
    q = shlex.quote
    py = remote.run(f"{q(host.python)} -c 'import sys, venv; "
                    "print(\"%d.%d\" % sys.version_info[:2])'", timeout_s=30)  # fmt: skip
    if py.status != 0:
        raise RemoteError(f"host {host.name}: {host.python} with venv is missing "
                          f"({py.stderr.strip()[-200:]}); install python3 and python3-venv "
                          f"there (apt-get install python3-venv)")  # fmt: skip
    if tuple(int(x) for x in py.stdout.strip().split(".")) < (3, 11):
        raise RemoteError(
            f"host {host.name}: {host.python} is {py.stdout.strip()}; "
            "the node needs Python 3.11 or newer (set 'python' in the inventory)"
        )
    if host.user != "root" and remote.run("sudo -n true", timeout_s=30).status != 0:
        raise RemoteError(f"host {host.name}: user {host.user} has no passwordless sudo "
                          "(needed for iptables, tc and clocks); add a NOPASSWD sudoers line "
                          "for it, or use user = \"root\"")  # fmt: skip
    _check_space(remote, host)
    return py.stdout.strip()


def _check_space(remote: Remote, host: HostSpec) -> None:
    remote.run(f"mkdir -p {shlex.quote(host.dir)}", timeout_s=30).check(host.name, "mkdir")
    df = remote.run(f"df -Pk {shlex.quote(host.dir)} | tail -1", timeout_s=30)
    fields = df.stdout.split()
    free_mb = int(fields[3]) // 1024 if len(fields) > 3 and fields[3].isdigit() else None
    if free_mb is not None and free_mb < NEEDED_MB:
        raise RemoteError(f"host {host.name}: the disk holding {host.dir} is full ({free_mb} MB "
                          f"free, a deploy needs {NEEDED_MB} MB); free space there or point "
                          "'dir' in the inventory at a larger disk")  # fmt: skip


def deploy_host(remote: Remote, host: HostSpec, art: Artifacts, python: str) -> bool:
    """Installs the node into `host.dir/venv`; False when this build was there already."""
    q, d = shlex.quote, host.dir
    marker = f"{d}/venv/.sibyl-deployed"
    if remote.run(f"cat {q(marker)}", timeout_s=30).stdout.strip() == art.digest:
        return False
    remote.run(f"rm -rf {q(d)}/venv {q(d)}/wheels && mkdir -p {q(d)}/wheels",
               timeout_s=60).check(host.name, "preparing " + d)  # fmt: skip
    wheels = [art.wheel, *art.wheelhouses[python]]
    for whl in wheels:
        remote.upload(whl, f"{d}/wheels/{whl.name}")
    names = " ".join(q(f"{d}/wheels/{w.name}") for w in wheels if not w.name.startswith("pip-"))
    pip = next(q(f"{d}/wheels/{w.name}/pip") for w in wheels if w.name.startswith("pip-"))
    install = (f"{q(host.python)} -m venv --without-pip {q(d)}/venv && {q(d)}/venv/bin/python "
               f"{pip} install -q --no-index --no-deps --disable-pip-version-check {names} && "
               f"echo {art.digest} > {q(marker)}")  # fmt: skip
    done = remote.run(install, timeout_s=600)
    if done.status != 0 and "no space left" in (done.stderr + done.stdout).lower():
        raise RemoteError(f"host {host.name}: the disk holding {d} filled up during the "
                          "install; free space there or point 'dir' at a larger disk")  # fmt: skip
    done.check(host.name, "creating the venv and installing the wheels")
    return True


def undeploy_host(remote: Remote, host: HostSpec) -> None:
    """Removes what `deploy_host` installed (best effort)."""
    q = shlex.quote
    remote.run(f"rm -rf {q(host.dir)}/venv {q(host.dir)}/wheels", timeout_s=60)


def deploy_all(
    remotes: Sequence[Remote], hosts: Sequence[HostSpec], parallel: int = 8,
    cache: Path = CACHE,
) -> Artifacts:  # fmt: skip
    """Preflights every host, builds the artifacts once, and deploys to every host, at
    most `parallel` at a time. On any failure, undeploys the hosts this call touched and
    raises the first error (a RemoteError naming the host)."""
    workers = max(1, min(parallel, len(hosts)))
    with ThreadPoolExecutor(workers, thread_name_prefix="deploy") as pool:
        pythons = list(pool.map(preflight, remotes, hosts))
        art = build_artifacts(sorted(set(pythons)), cache)
        futures = [pool.submit(deploy_host, r, h, art, v)
                   for r, h, v in zip(remotes, hosts, pythons)]  # fmt: skip
        errors = [f.exception() for f in futures]
    failed = [e for e in errors if e is not None]
    if failed:
        for (r, h), e, f in zip(zip(remotes, hosts), errors, futures):
            if e is not None or f.result():
                undeploy_host(r, h)
        raise failed[0]
    return art
