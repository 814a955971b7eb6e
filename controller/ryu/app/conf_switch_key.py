"""Ryu's ``conf_switch_key``: the names of per-switch settings kept by ``rest_conf_switch``.

Apps read a switch's settings from the ``conf_switch`` context
(``os_ken.controller.conf_switch.ConfSwitchSet``) under these keys; ``rest_qos`` reads
``OVSDB_ADDR``, the address of the switch's OVSDB server (``tcp:127.0.0.1:6632``).
"""

OVSDB_ADDR = "ovsdb_addr"  # where the switch's Open vSwitch database listens (rest_qos)
OVS_TUNNEL_ADDR = "ovs_tunnel_addr"  # the switch's tunnel endpoint address (tunnel apps)
