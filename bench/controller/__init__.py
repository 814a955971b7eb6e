"""Controller benchmarks: cbench-style flow setup rate and latency, and the failover loss window."""
