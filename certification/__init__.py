"""Skill certification: skill framework, check evidence, exams, evidence bundles, signed certificates.

``framework`` loads the versioned skill framework (``skills/framework.yaml``); ``evidence``
maps graded checks to skill levels; ``exam`` and ``attempt`` run timed exams; ``bundle`` builds
the hashed evidence bundle; ``credential`` signs and verifies Open Badges 3.0 certificates;
``variants`` renders per-trainee lab variants from a seed.
"""
