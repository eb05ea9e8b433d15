"""Benchmarks: `make bench` (the suite at a million messages, bench/suite.py), `make load`
(simulated agents, bench/load/) and `make bench-micro` (pytest figures, bench/micro/)."""
