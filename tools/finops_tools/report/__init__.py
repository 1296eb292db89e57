"""`finops report --html`: one self-contained page of the stored costs."""
