"""What the compatibility-mode scripts share.

Each script runs as ``python <script>.py ARGS...`` (from ``tests/tf1/test_compat_mode.py``),
switches its process to TF1 compatibility mode (``disable_v2_behavior`` is process-wide) and
prints one ``RESULT {json}`` line for the test to check.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.compat_child import emit, error_of, names, tf1  # noqa: E402

__all__ = ["TESTS", "emit", "error_of", "names", "tf1"]
