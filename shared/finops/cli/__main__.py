"""`python -m finops.cli`."""

from finops.cli import main

main()
