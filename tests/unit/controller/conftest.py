"""Makes the controller unit tests' shared data module (ctl_unit_data) importable."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
