"""sdnlab: an SDN/NFV training lab.

The library lives in subpackages that map onto the repository's top-level folders:
``sdnlab.topologies`` (declarative topologies and Mininet builders), ``sdnlab.controller``
(the Ryu API on os-ken and built-in apps), ``sdnlab.vnfs`` (network functions),
``sdnlab.grader`` (the OpenFlow data-plane model and grading) and ``sdnlab.labs``
(the lab catalogue). ``sdnlab.runtime`` holds the lab supervisor; ``sdnlab.cli`` is a thin
Typer layer over all of it.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("sdnlab")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
