"""The Dynamo-style node: the system under test. Imports nothing from the other packages."""
