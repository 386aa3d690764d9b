"""`make bench`: measures the API against baselines measured in the same run (see docs/benchmarks.md)."""
