"""Benchmarks (not tests): ``python -m bench.fanout`` — see docs/performance.md."""
