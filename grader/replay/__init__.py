"""Grading controller apps by their OpenFlow conversation: record it, show it, replay it.

``pcapng`` writes and reads conversations (Wireshark-compatible), ``record`` hooks the
controller runner to record one, ``show`` prints it as a readable sequence, and ``switch`` /
``scenario`` / ``grade`` run an app against simulated switches built on the grader's pipeline.
"""
