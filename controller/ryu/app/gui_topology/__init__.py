"""Ryu's ``ryu.app.gui_topology``: the topology viewer (the app is in ``gui_topology.py``).

Both spellings load it: ``ryu.app.gui_topology`` and Ryu's ``ryu.app.gui_topology.gui_topology``.
"""

from ryu.app.gui_topology import gui_topology as _viewer


class GUITopology(_viewer.GUIServerApp):
    """The viewer, loadable as ``ryu.app.gui_topology``."""


_REQUIRED_APP = list(_viewer._REQUIRED_APP)  # os-ken reads the apps to load with this module's app here
