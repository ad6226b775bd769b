"""Benchmark of the sales bot against a minimal Rasa bot (`make bench`, docs/benchmark.md)."""
