"""Exit codes and the one error type for a user's mistake.

Every `sibyl` command ends with one of five exit codes, after Jepsen's
convention, so a nightly job can tell a bug in the store under test (1) from a
bug in its own command line (254) or in Sibyl (255):

| code | meaning |
|---|---|
| 0 | valid: every checker passed |
| 1 | invalid: some checker found an anomaly |
| 2 | unknown: no verdict (a checker ran out of time or memory, or could not decide) |
| 254 | bad arguments or unusable input: nothing was checked; the message says what to fix |
| 255 | crashed: Sibyl itself failed; the run directory says what happened |

A command raises `UsageError` for a mistake in what it was given; `harness.cli`
prints its message once, with no traceback, and exits 254.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit status of every `sibyl` command."""

    VALID = 0
    INVALID = 1
    UNKNOWN = 2
    USAGE = 254
    CRASHED = 255


EXIT_CODES_HELP = (
    "Exit status: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or unusable input, 255 crashed."
)


class UsageError(Exception):
    """Bad arguments or unusable input. The message names the input and what to do."""
