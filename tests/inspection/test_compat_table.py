"""Each model's compatibility table: the expected cells for every format, and the calls of
the load and fine-tune cells run for real (Keras 3 and tf_keras here, TF1 compatibility mode
in a subprocess): a cell that says "works" works, one that says it does not is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfhub
from support.compat import run_compat_script
from tfhub.inspection import with_compatibility
from tfhub.inspection.report import MODES, CompatCell, InspectReport

# load / fine_tune / create in TF1 compatibility mode, TF2 with tf_keras, Keras 3 (y = works).
EXPECTED = {
    "reusable": ("yyy", "yyy", "yyy"),
    "signatures_only": ("yyy", "nnn", "yyy"),
    "counting": ("yyy", "yyy", "yyy"),
    "hub_module": ("yyy", "yyy", "yyy"),
    "original_module": ("yyy", "yyy", "yyy"),
    "reference_module": ("yyy", "yyy", "yyy"),
    "image_module": ("yyy", "yyy", "yyy"),
    "tf1_saved_model": ("yyy", "ynn", "yyy"),
    "tf_keras_saved": ("yyy", "yyy", "yyn"),
    "keras3_export": ("yyy", "nnn", "nny"),
}
# The models whose load / fine-tune cells are run (the others share their format and cells).
RUN = [
    "reusable",
    "signatures_only",
    "counting",
    "hub_module",
    "reference_module",
    "tf1_saved_model",
    "tf_keras_saved",
    "keras3_export",
]


def works(report: InspectReport) -> tuple[str, ...]:
    table = report.compatibility
    assert table is not None
    return tuple(
        "".join("y" if getattr(getattr(table, op), m).works else "n" for m in MODES)
        for op in ("load", "fine_tune", "create")
    )


@pytest.fixture(scope="module")
def reports(models: Any) -> dict[str, InspectReport]:
    return {f.name: tfhub.inspect(getattr(models, f.name)) for f in dataclasses.fields(models)}


def test_every_model_has_the_expected_table(reports: dict[str, InspectReport]) -> None:
    assert set(EXPECTED) <= set(reports)
    got = {name: works(reports[name]) for name in EXPECTED}
    assert got == EXPECTED


def test_cells_name_the_model_and_say_why_not(reports: dict[str, InspectReport]) -> None:
    hub = reports["hub_module"].compatibility
    assert hub is not None
    path = reports["hub_module"].handle
    assert hub.load.tf1_compat.call.startswith(f"m = tfhub.Module({path!r})")
    assert hub.fine_tune.tf1_compat.call == (
        f"m = tfhub.Module({path!r}, trainable=True, tags={{'train'}})"
    )
    assert hub.fine_tune.keras3.call == f"layer = tfhub.KerasLayer({path!r}, trainable=True)"
    assert "`train` graph variant" in hub.fine_tune.keras3.note
    assert any("tfhub convert" in n for n in hub.notes)
    image = reports["image_module"].compatibility
    assert image is not None and "no `train` graph variant" in image.fine_tune.keras3.note
    reference = reports["reference_module"].compatibility
    assert reference is not None and "VariableV2" in reference.fine_tune.keras3.note
    counting = reports["counting"].compatibility
    assert counting is not None and "no `training` argument" in counting.fine_tune.keras3.note
    keras3 = reports["keras3_export"].compatibility
    assert keras3 is not None and "no `__call__`" in keras3.fine_tune.keras3.note
    assert "output_key='output_0'" in keras3.load.keras3.call
    tf1 = reports["tf1_saved_model"].compatibility
    assert tf1 is not None and "only signatures" in tf1.fine_tune.keras3.note


def test_the_table_can_name_another_handle(reports: dict[str, InspectReport]) -> None:
    url = "https://hub.example.com/models/encoder/1"
    renamed = with_compatibility(reports["reusable"], url)
    assert renamed.handle == url and renamed.compatibility is not None
    assert renamed.compatibility.load.keras3.call == f"layer = tfhub.KerasLayer({url!r})"
    assert works(renamed) == works(reports["reusable"])


def sample(report: InspectReport, call: str) -> Any:
    """Inputs for a cell's call, from the report itself: the traced ``__call__`` input, or
    the inputs of the signature the call names (a dict when the call unpacks ``**inputs``)."""
    signature = next(
        (s for v in report.graph_variants[:1] for s in v.signatures if f"'{s.name}'" in call),
        None,
    )
    if signature is None and report.reusable is not None and report.reusable.call:
        specs = report.reusable.call_traces[0].inputs
    else:
        first = report.graph_variants[0].signatures
        signature = signature or next((s for s in first if s.name == "default"), first[0])
        specs = signature.inputs
    values = {
        t.name: np.ones([2 if d is None else d for d in t.shape or ()], t.dtype) for t in specs
    }
    return values if "**inputs" in call or len(values) > 1 else next(iter(values.values()))


@pytest.mark.parametrize("name", RUN)
def test_tf2_cells_do_what_they_say(reports: dict[str, InspectReport], name: str) -> None:
    report = reports[name]
    table = report.compatibility
    assert table is not None
    for op in ("load", "fine_tune"):
        for mode in ("tf2_tf_keras", "keras3"):
            cell: CompatCell = getattr(getattr(table, op), mode)
            scope: dict[str, Any] = {"tfhub": tfhub}
            if not cell.works:
                with pytest.raises(tfhub.HubError):
                    exec(cell.call, scope)
                    scope["layer"](sample(report, cell.call))
                continue
            exec(cell.call, scope)
            layer = scope["layer"]
            output = layer(sample(report, cell.call))
            assert int(np.asarray(output).shape[0]) == 2, (name, op, mode)
            if op == "fine_tune":
                assert layer.trainable_weights, (name, op, mode)


_TF1_SCRIPT = """
import json, sys
import numpy as np
import tensorflow
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
import tfhub

results = []
for case in json.load(open(sys.argv[1])):
    with tf.Graph().as_default(), tf.Session() as sess:
        feed = {k: np.asarray(v, dtype=case["dtypes"][k]) for k, v in case["inputs"].items()}
        inputs = feed if case["as_dict"] else next(iter(feed.values()))
        scope = {"tfhub": tfhub, "tf": tensorflow, "sess": sess, "inputs": inputs}
        exec(case["call"], scope)
        if "outputs" in scope:
            sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
            out = sess.run(scope["outputs"])
            out = out if isinstance(out, dict) else {"output": out}
            result = {k: list(np.asarray(v).shape) for k, v in out.items()}
        elif "layer" in scope:
            result = {"trainable_weights": len(scope["layer"].trainable_weights)}
        else:
            result = {"trainable_variables": len(tf.trainable_variables())}
        results.append(result)
print("RESULT " + json.dumps({"results": results}))
"""


@pytest.mark.slow
def test_tf1_compat_cells_do_what_they_say(
    reports: dict[str, InspectReport], tmp_path: Path
) -> None:
    cases, expected = [], []
    for name in ("reusable", "hub_module", "tf1_saved_model", "keras3_export"):
        report = reports[name]
        table = report.compatibility
        assert table is not None
        for cell in (table.load.tf1_compat, table.fine_tune.tf1_compat):
            if not cell.works:
                continue
            values = sample(report, cell.call)
            as_dict = isinstance(values, dict)
            feed = values if as_dict else {"x": values}
            cases.append(
                {
                    "call": cell.call,
                    "inputs": {k: v.tolist() for k, v in feed.items()},
                    "dtypes": {k: str(v.dtype) for k, v in feed.items()},
                    "as_dict": as_dict,
                }
            )
            expected.append((name, cell.call))
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "cells.py").write_text(_TF1_SCRIPT)
    result = run_compat_script(tmp_path, "cells", tmp_path / "cases.json", timeout=240)
    outcomes = result["results"]
    assert len(outcomes) == len(expected) == 7  # keras3_export cannot be fine-tuned
    for (name, call), outcome in zip(expected, outcomes, strict=True):
        assert outcome, (name, call)
        for key, value in outcome.items():
            if key == "output" or isinstance(value, list):
                assert value[:1] == [2], (name, call, outcome)  # a batch of two ran
            else:
                assert value > 0, (name, call, outcome)  # something to fine-tune
