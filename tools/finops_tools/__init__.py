"""Tooling around the library: the `finops` command and the local dev stack.

Tools import the `finops` library; the library and the services never import tools.
"""
