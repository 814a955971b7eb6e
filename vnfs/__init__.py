"""Virtual network functions: a fast packet-processing framework and the VNFs built on it.

``sdnlab.vnfs.packet`` parses frames, ``sdnlab.vnfs.pcapio`` reads and writes captures,
``sdnlab.vnfs.framework`` holds the researcher API (the ``VNF`` base class, verdicts, flow
tables, YAML config) and the AF_PACKET engine, and ``firewall``, ``lb``, ``dpi`` /
``dpi_vnf`` and ``chains`` are the network functions and their service chains. Importing
this package is cheap: nothing below is loaded until used.
"""
