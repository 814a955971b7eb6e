"""Bring-up benchmark: sdnlab up/down vs a plain Mininet script on the same graph."""
