"""The Ryu book's ``qos_simple_switch_13``: ``simple_switch_13`` forwarding in table 1.

The QoS chapter makes it with ``sed`` from ``simple_switch_13.py`` (adding ``table_id=1`` to its
flow-mods) because ``rest_qos`` owns table 0: its rules mark, meter and queue packets there and
send everything on to table 1, where this switch learns and forwards. Run it together with
``ryu.app.rest_qos`` (alone, table 0 stays empty and the switch drops everything).
"""

from __future__ import annotations

from ryu.app import simple_switch_13

FORWARD_TABLE = 1  # rest_qos's rules continue here (sdnlab.controller.qos_rules.FORWARD_TABLE)


class SimpleSwitch13(simple_switch_13.SimpleSwitch13):
    """``simple_switch_13`` whose flows (the table-miss and the learnt ones) go to table 1."""

    def add_flow(self, datapath, priority, match, actions, buffer_id=None, idle_timeout=0, hard_timeout=0):
        """Add a flow applying ``actions`` to packets matching ``match`` in table 1."""
        datapath.send_msg(
            simple_switch_13.flow_mod(
                datapath,
                priority,
                match,
                actions,
                buffer_id,
                idle_timeout,
                hard_timeout,
                table_id=FORWARD_TABLE,
            )
        )
