"""Ryu API alias (see sdnlab.controller)."""
