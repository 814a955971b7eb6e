"""The load balancer VNF: a virtual IP in front of a pool, with NAT and health checks."""
