"""Benchmarks: each part has bench/<part>/run.py writing bench/results/<part>.json."""
