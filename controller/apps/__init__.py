"""os-ken apps shipped with sdnlab; ``builtin`` is the one labs run by default."""
