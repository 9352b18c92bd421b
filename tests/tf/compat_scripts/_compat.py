"""What every compatibility-mode script shares.

Each script is run as ``python <script>.py ARGS...`` by ``tests/tf/test_compat_mode.py``,
switches its own process to TF1 compatibility mode (``tf.disable_v2_behavior()`` is
process-wide) and prints exactly one ``RESULT {json}`` line on stdout for the test to check.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.compat_child import emit, error_of, names, tf1  # noqa: E402

__all__ = ["TESTS", "emit", "error_of", "names", "tf1"]


LR = 0.1
X = [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -1.0, 0.5]]
Y = [[1.0, 0.0], [0.5, 1.0], [0.0, 0.0], [2.0, -1.0]]
WORDS = ["b", "zzz", "c"]
