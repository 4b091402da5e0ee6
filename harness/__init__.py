"""The controller: remotes, cluster control, faults, generator, runner, store, report, CLI."""
