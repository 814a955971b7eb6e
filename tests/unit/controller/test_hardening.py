"""The os-ken workarounds give the same answers as the code they replace."""

from os_ken.lib import ofctl_utils
from os_ken.ofproto import ofproto_v1_3

from sdnlab.controller.hardening import reserved_num_to_user


def scan(util, num, prefix):
    """The upstream behaviour, stated plainly: the first matching non-deprecated name, else num."""
    for name, value in vars(util.ofproto).items():
        if name not in util.deprecated_value and name.startswith(prefix) and value == num:
            return name.replace(prefix, "")
    return num


def test_reserved_names_come_from_a_table_with_upstreams_answers():
    util = ofctl_utils.OFCtlUtil(ofproto_v1_3)
    cases = [
        (num, prefix)
        for prefix in ("OFPP_", "OFPG_", "OFPM_", "OFPTT_", "OFPQ_", "OFPCML_", "OFPTFPT_", "OFPQCFC_")
        for num in (
            0,
            1,
            2,
            5,
            0xFFFFFFF8,
            0xFFFFFFFA,
            0xFFFFFFFB,
            0xFFFFFFFC,
            0xFFFFFFFD,
            0xFFFFFFFE,
            0xFFFFFFFF,
            0xFF,
            0xFE,
            0xFFFF,
            0xFFE5,
            0xFFFE,
        )
    ]
    for num, prefix in cases:
        assert reserved_num_to_user(util, num, prefix) == scan(util, num, prefix), (num, prefix)
    assert reserved_num_to_user(util, 0xFFFFFFFD, "OFPP_") == "CONTROLLER"
    assert reserved_num_to_user(util, [1], "OFPP_") == [1]  # an unhashable value is returned as is
