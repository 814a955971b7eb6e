"""The stateful firewall VNF: conntrack states, ordered rules, rate limits, reject or drop."""
