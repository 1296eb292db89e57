"""`python -m finops_tools.cli`."""

from finops_tools.cli import program

program()
