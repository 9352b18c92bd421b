"""The child side of compatibility-mode tests: a script switches its own process to TF1
compatibility mode (``disable_v2_behavior`` is process-wide) and prints one ``RESULT {json}``
line that the test (see :mod:`support.compat`) parses."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any


def tf1() -> ModuleType:
    """``tensorflow.compat.v1`` with TF2 behaviour disabled, as TF1 programs start."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    assert not tf.executing_eagerly()
    return tf


def names(tf: ModuleType, key: str) -> list[str]:
    """The sorted names of what a graph collection holds."""
    return sorted(getattr(item, "name", str(item)) for item in tf.get_collection(key))


def error_of(fn: Callable[[], Any]) -> str | None:
    """``None`` if ``fn()`` runs, else ``"ErrorType: message"`` (the start of the message)."""
    try:
        fn()
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:2000]}"
    return None


def emit(**result: Any) -> None:
    """Prints the one ``RESULT {json}`` line the test reads."""
    print("RESULT " + json.dumps(result, default=_plain), flush=True)


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"cannot emit a {type(value).__name__}")
