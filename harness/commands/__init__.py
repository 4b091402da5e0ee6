"""One module per `sibyl` subcommand; see harness/cli.py."""
