"""`python -m benchmarks.load`: see benchmarks/load/__init__.py."""

raise SystemExit("The load test is not written yet.")
