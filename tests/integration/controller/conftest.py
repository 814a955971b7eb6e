"""Makes the controller's network helpers (ctl_netutil) importable by its integration tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
