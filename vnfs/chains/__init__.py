"""Service chains: steering traffic through bump-in-the-wire VNFs, and a namespace testbed.

In a lab the controller's service-chaining app steers (see docs/controller.md, ``chains``);
``steering`` builds equivalent static OpenFlow rules for one switch, and ``testbed`` builds a
small client / OVS / server network with VNF namespaces for tests and benchmarks.
"""
