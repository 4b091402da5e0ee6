"""The deterministic simulator: agenda (virtual time), network (faulty links), cluster (nodes).

Test-only machinery that plays the part `node/server.py` plays in production.
"""

# first: a current mypyc build of the hot modules, where a process opts in (see `native`)
import native

native.activate(__name__, __path__)
