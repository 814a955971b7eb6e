"""Ryu's ``ryu.app`` package: sample apps and the REST layer, written fresh on os-ken.

Sub-modules that are not files here (for example ``ryu.app.ofctl``) resolve to ``os_ken.app.X``.
"""
