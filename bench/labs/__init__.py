"""Benchmark of the lab workflow (bench/labs/run.py)."""
