"""Runs copy-paste snippets as a user would: ``python run_snippets.py FILE...`` executes
each file's code in a fresh namespace of this process (TF1 compatibility mode snippets
need a process of their own), then prints ``RESULT {"results": [...]}``: per file, what it printed
and its ``outputs`` (a dict of them by key): their values if eager, else their shapes."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any


def values(outputs: Any) -> Any:
    if isinstance(outputs, dict):
        return {k: values(v) for k, v in sorted(outputs.items())}
    if hasattr(outputs, "numpy"):
        return outputs.numpy().tolist()
    shape = getattr(outputs, "shape", None)
    return None if shape is None else {"shape": [None if d is None else int(d) for d in shape]}


def main(files: list[str]) -> None:
    results = []
    for name in files:
        namespace: dict[str, Any] = {"__name__": "__snippet__"}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(Path(name).read_text(), name, "exec"), namespace)
        results.append({"printed": printed.getvalue(), "outputs": values(namespace.get("outputs"))})
    print("RESULT " + json.dumps({"results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
