"""VNF benchmarks: packets/s per core offline and live, TCP throughput through VNFs and a chain,
and the firewall against nftables."""
