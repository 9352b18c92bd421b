"""What every compatibility-mode script shares.

Each script is run as ``python <script>.py ARGS...`` by ``tests/tf/test_compat_mode.py``,
switches its own process to TF1 compatibility mode (``tf.disable_v2_behavior()`` is
process-wide) and prints exactly one ``RESULT {json}`` line on stdout for the test to check.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS = Path(__file__).resolve().parents[2]
LR = 0.1
X = [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -1.0, 0.5]]
Y = [[1.0, 0.0], [0.5, 1.0], [0.0, 0.0], [2.0, -1.0]]
WORDS = ["b", "zzz", "c"]


def tf1() -> ModuleType:
    """``tensorflow.compat.v1`` with TF2 behaviour disabled, as TF1 code starts."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    assert not tf.executing_eagerly()
    return tf


def error_of(fn: Callable[[], Any]) -> str | None:
    """``None`` if ``fn()`` runs, else ``"ErrorType: message"`` (the start of the message)."""
    try:
        fn()
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:2000]}"
    return None


def emit(**result: Any) -> None:
    print("RESULT " + json.dumps(result, default=_plain), flush=True)


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot emit a {type(value).__name__}")
