"""The cluster secret: an HMAC challenge-response in the hello, so the secret never travels.

Each side of a connection sends a fresh random nonce in its hello (`secrets`).
The side that connected then proves it holds the secret with
`proof(secret, role, name, its nonce, the node's nonce)`, an HMAC-SHA256 over
both nonces, its role and its name (so a proof is good for one connection
only); the node checks it with `hmac.compare_digest`. Peer traffic and admin
commands need a proven connection; data requests too when the node's config
says `require_client_auth = true`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

NONCE_BYTES = 16
PROOF_BYTES = 32
SECRET_BYTES = 32
ADMIN_REQUESTS = frozenset({"join", "leave"})
"""Client requests that change membership or settings: only a proven connection may send them."""


class SecretError(ValueError):
    """A secret file that is missing, empty, or readable by others."""


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def proof(secret: bytes, role: str, name: str, nonce: bytes, node_nonce: bytes) -> bytes:
    """What the connecting side sends to prove it holds `secret` on this connection."""
    text = b"\0".join([b"sibyl-hello-v1", role.encode(), name.encode(), nonce, node_nonce])
    return hmac.new(secret, text, hashlib.sha256).digest()


def verify(secret: bytes, role: str, name: str, nonce: bytes, node_nonce: bytes,
           given: object) -> bool:  # fmt: skip
    """Whether `given` is the proof for this connection (constant-time)."""
    if not isinstance(given, bytes) or len(given) != PROOF_BYTES:
        return False
    return hmac.compare_digest(proof(secret, role, name, nonce, node_nonce), given)


def write_secret(path: Path) -> bytes:
    """Creates a fresh secret in `path`, readable by its owner only (0600); returns it."""
    secret = secrets.token_hex(SECRET_BYTES).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, secret + b"\n")
    finally:
        os.close(fd)
    return secret


def read_secret(path: str | Path) -> bytes:
    """The secret in `path`; raises SecretError saying what is wrong and what to do."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        data = p.read_bytes().strip()
    except OSError as e:
        raise SecretError(f"{p}: cannot read the cluster secret: {e.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"{p}: the cluster secret is readable by others; chmod 600 it")
    if len(data) < 16:
        raise SecretError(f"{p}: the cluster secret is empty or shorter than 16 bytes")
    return data
