"""Sandbox backends beyond this host's own labs: podman containers (``container``) and Kubernetes pods."""
