"""Flow tables of the three-switch line (h1-s1-s2-s3, h2 on s2, h3 on s3) with simple destination routes.

Shared by the grader's unit tests (``tests/unit/grader``): the ``line_rules`` fixture and
``test_grading.py``'s defaults.
"""

LINE_RULES = {
    "s1": (
        "priority=10,ip,nw_dst=10.0.0.1 actions=output:1\n"
        "priority=5,ip actions=output:2\n"
        "priority=5,arp actions=FLOOD\n"
    ),
    "s2": (
        "priority=10,ip,nw_dst=10.0.0.1 actions=output:2\n"
        "priority=10,ip,nw_dst=10.0.0.2 actions=output:1\n"
        "priority=10,ip,nw_dst=10.0.0.3 actions=output:3\n"
        "priority=5,arp actions=FLOOD\n"
    ),
    "s3": (
        "priority=10,ip,nw_dst=10.0.0.3 actions=output:1\n"
        "priority=5,ip actions=output:2\n"
        "priority=5,arp actions=FLOOD\n"
    ),
}
