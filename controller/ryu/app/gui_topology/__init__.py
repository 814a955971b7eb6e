"""Ryu's ``ryu.app.gui_topology``: the topology viewer (the app is in ``gui_topology.py``).

Both spellings load it: ``ryu.app.gui_topology`` and Ryu's ``ryu.app.gui_topology.gui_topology``.
"""

from ryu.app.gui_topology import gui_topology as _viewer


class GUITopology(_viewer.GUIServerApp):
    """The viewer, loadable as ``ryu.app.gui_topology``."""


# os-ken finds the apps an app needs in the module that defines it
_REQUIRED_APP = list(getattr(_viewer, "_REQUIRED_APP", []))
