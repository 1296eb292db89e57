"""`python -m finops_tools.cli`."""

from finops_tools.cli import main

main()
