"""The Dynamo-style node: the system under test. Imports nothing from the other packages
(`native` aside, which imports nothing of Sibyl's)."""

# first: a current mypyc build of the hot modules, where a process opts in (see `native`)
import native

native.activate(__name__, __path__)
