"""The registry of behaviour kinds (one module per kind; see ``base`` and docs/grader.md).

Importing this package registers the built-in kinds. ``kinds()`` lists them by name,
``kind_named(name)`` returns one.
"""

from sdnlab.grader.behaviours import (  # noqa: F401  (imported to register the built-in kinds)
    failover,
    isolate,
    load_split,
    no_blackhole,
    no_loop,
    path,
    ping,
    reach,
    waypoint,
)
from sdnlab.grader.behaviours.base import BehaviourKind, ProbeCase, Verdict, kind_named, kinds, register

__all__ = ["BehaviourKind", "ProbeCase", "Verdict", "kind_named", "kinds", "register"]
