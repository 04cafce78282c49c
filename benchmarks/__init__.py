"""Benchmarks: throughput, latency, query speed and memory, each beside its baseline.

Run with ``make bench`` (full) or ``make bench-quick``; ``python -m benchmarks --help``.
Every run starts its own stack under a temporary THBDB_HOME on free ports and stops it.
"""
