"""The deterministic simulator: agenda (virtual time), network (faulty links), cluster (nodes).

Test-only machinery that plays the part `node/server.py` plays in production.
"""
