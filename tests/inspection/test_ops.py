"""Op libraries: the shipped list of core TensorFlow ops matches the installed TensorFlow,
every op ``tensorflow_text`` registers is attributed to it, and ``MissingOpError`` still
names the package to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tfhub.inspection.ops import core_ops, is_core_op, op_libraries, package_for_op
from tfhub.tf.ops import missing_op_error

ROOT = Path(__file__).resolve().parents[2]

# Lists the ops registered by TensorFlow alone, then by TensorFlow plus tensorflow_text.
_REGISTRY_PROBE = """
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow
from tensorflow.python.client import pywrap_tf_session as c
from tfhub.core.wire import fields, message, text

def ops():
    data = c.TF_GetBuffer(c.TF_GetAllOpList())
    return {text(v) for n, d in fields(data) if n == 1 for m, v in fields(message(d)) if m == 1}

core = ops()
import tensorflow_text
print(json.dumps({"core": sorted(core), "text": sorted(ops() - core)}))
"""


@pytest.fixture(scope="module")
def registry() -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _REGISTRY_PROBE],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_the_core_op_list_matches_the_installed_tensorflow(registry: dict[str, list[str]]) -> None:
    assert sorted(core_ops()) == registry["core"]
    listing = (ROOT / "src/tfhub/inspection/tf_core_ops.txt").read_text()
    assert listing == "".join(op + "\n" for op in sorted(registry["core"]))


def test_the_generator_script_checks_the_list() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_core_ops.py"), "--check"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "matches the installed TensorFlow" in proc.stdout


def test_every_tensorflow_text_op_is_attributed(registry: dict[str, list[str]]) -> None:
    assert len(registry["text"]) > 20
    for op in registry["text"]:
        assert not is_core_op(op), op
        assert package_for_op(op) == "tensorflow-text", op


def test_op_libraries_group_non_core_ops_by_package() -> None:
    ops = ["MatMul", "SentencepieceOp", "TFText>RoundRobinTrim", "Addons>Foo", "NoSuchOp", ""]
    assert op_libraries(ops) == [
        ("tensorflow-addons", ("Addons>Foo",)),
        ("tensorflow-text", ("SentencepieceOp", "TFText>RoundRobinTrim")),
        (None, ("NoSuchOp",)),
    ]
    assert op_libraries(["MatMul", "ReadFile", "StatefulPartitionedCall"]) == []


def test_missing_op_error_names_the_package() -> None:
    error = missing_op_error("Op type not registered 'SentencepieceOp' in binary", "m")
    assert error is not None
    assert "pip install tensorflow-text" in str(error) and "'SentencepieceOp'" in str(error)
    unknown = missing_op_error("Op type not registered 'MyOwnOp' in binary", "m")
    assert unknown is not None and "pip install" not in str(unknown)
    assert missing_op_error("some other failure", "m") is None
