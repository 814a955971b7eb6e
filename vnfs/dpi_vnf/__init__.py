"""The DPI engine (``sdnlab.vnfs.dpi``) wrapped as a VNF that can quarantine risky hosts."""
