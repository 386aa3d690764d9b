"""Fault drills (issue 8): the real stack under load, one fault at a time, with figures.

`python -m drills` (`make drills`, `make drills QUICK=1`) runs them all and writes the table into
docs/reliability.md; tests/drills runs the same drills with a smaller load under pytest.
"""
