"""`python -m harness.toxiproxy`: the same server as `sibyl toxiproxy`."""

import sys

from harness.commands.toxiproxy import main

sys.exit(main())
