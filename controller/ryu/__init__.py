"""Ryu API alias: ``ryu.X`` is the same module object as ``os_ken.X`` (see sdnlab.controller.alias).

Modules os-ken dropped (``ryu.app.wsgi``, ``ryu.app.ofctl_rest``, ``ryu.app.rest_topology``,
``ryu.app.simple_switch_13``, ``ryu.app.simple_monitor_13``) are real files in this package,
written for sdnlab on top of os-ken.
"""

from sdnlab.controller import alias as _alias

_alias.install()

version = "4.34"  # the Ryu release whose API this alias follows
