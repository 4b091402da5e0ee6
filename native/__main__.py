"""`python -m native`: builds the compiled modules (see `native`)."""

from native import build

build()  # a failed build is not an error: the pure-Python modules work
