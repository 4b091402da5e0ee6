"""The controller: remotes, cluster control, faults, generator, runner, store, report, CLI."""

import native

native.activate(__name__, __path__)
