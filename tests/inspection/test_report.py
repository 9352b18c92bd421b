"""``tfhub.inspect`` on real models of every format: the facts it reports match what
TensorFlow and the files say; the JSON form round-trips and follows ``schema_v1.json``;
inspecting never imports TensorFlow; URL handles are resolved first."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tfhub
from support.server import HubTestServer, Route
from tfhub.core.pack import pack_archive
from tfhub.inspection import inspect_path
from tfhub.inspection.read import read_model
from tfhub.inspection.report import InspectReport, SignatureInfo, TensorInfo

FIELDS = [f.name for f in dataclasses.fields(InspectReport)]


def dense(name: str, dtype: str, shape: tuple[int | None, ...], tensor: str) -> TensorInfo:
    return TensorInfo(name, "dense", dtype, shape, tensors=(tensor,))


def strip(signature: SignatureInfo) -> tuple[Any, ...]:
    """A signature without its graph tensor names (they differ between graphs)."""
    return (
        signature.name,
        [(t.name, t.kind, t.dtype, t.shape) for t in signature.inputs],
        [(t.name, t.kind, t.dtype, t.shape) for t in signature.outputs],
    )


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_tf2_reusable_saved_model(models: Any, tf_checkpoint: Callable[..., Any]) -> None:
    import tensorflow as tf

    report = tfhub.inspect(models.reusable)
    assert report.format == "tf2-saved-model" and report.keras is None
    assert report.tensorflow_version == tf.__version__
    [variant] = report.graph_variants
    assert variant.tags == ("serve",)
    assert [s.name for s in variant.signatures] == ["embed", "serving_default"]
    serving = report.signature("serving_default")
    assert serving.inputs == (dense("x", "float32", (None, 3), "serving_default_x:0"),)
    assert [(o.name, o.kind, o.dtype, o.shape) for o in serving.outputs] == [
        ("hidden", "dense", "float32", (None, 2)),
        ("output", "dense", "float32", (None, 2)),
    ]
    reusable = report.reusable
    assert reusable is not None and reusable.ok and reusable.call
    assert reusable.call_accepts_training
    assert {t.training for t in reusable.call_traces} == {True, False}
    assert all(t.inputs == (TensorInfo("x", "dense", "float32", (None, 3)),)
               for t in reusable.call_traces)  # fmt: skip
    loaded = tf.saved_model.load(str(models.reusable))
    assert reusable.variables == len(loaded.variables) == 3
    assert reusable.trainable_variables == len(loaded.trainable_variables) == 2
    assert reusable.regularization_losses == len(loaded.regularization_losses) == 1
    # Every variable the checkpoint holds (save_counter too), as TensorFlow lists them.
    entries = tf_checkpoint(models.reusable)
    assert report.variables.count == len(entries) == 4
    assert sorted(v.shape for v in report.variables.items) == sorted(
        tuple(shape) for _, shape in entries
    )
    by_name = {v.name: v for v in report.variables.items}
    assert by_name["kernel"].trainable and by_name["kernel"].dtype == "float32"
    assert not by_name["moving_mean"].trainable and by_name["save_counter"].dtype == "int64"
    assert report.variables.trainable == 2 and report.variables.reference == 0
    assert report.variables.checkpoint_bytes == file_bytes(models.reusable / "variables")
    assert report.variables.checkpoint_files == 2
    assert report.assets == () and report.attachments == () and report.image is None


def test_call_without_training_and_signatures_only(models: Any) -> None:
    counting = tfhub.inspect(models.counting).reusable
    assert counting is not None and counting.ok and not counting.call_accepts_training
    assert [t.training for t in counting.call_traces] == [None]
    assert any("no `training` argument" in n for n in counting.notes)
    signatures_only = tfhub.inspect(models.signatures_only).reusable
    assert signatures_only is not None and not signatures_only.call
    assert signatures_only.call_traces == () and not signatures_only.ok
    assert any("no `__call__`" in p for p in signatures_only.problems)
    assert signatures_only.variables == 3  # the lists are there, only __call__ is missing


def test_tf1_hub_module(models: Any, tf_checkpoint: Callable[..., Any]) -> None:
    from tf1.hub_fixture import MESSAGE_KEY, VOCAB, message

    report = tfhub.inspect(models.hub_module)
    assert report.format == "tf1-hub-module" and report.reusable is None
    assert [v.tags for v in report.graph_variants] == [(), ("train",)]
    inference, train = report.graph_variants
    assert [s.name for s in inference.signatures] == ["default", "words"]
    assert [strip(s) for s in inference.signatures] == [strip(s) for s in train.signatures]
    assert (inference.update_ops, train.update_ops) == (0, 1)
    assert inference.regularization_losses == train.regularization_losses == 2
    words = report.signature("words", tags=())
    [sparse] = words.inputs
    assert (sparse.name, sparse.kind, sparse.dtype, sparse.shape) == (
        "words", "sparse", "string", (None, None)
    )  # fmt: skip
    assert len(sparse.tensors) == 3  # indices, values, dense_shape
    assert [(o.name, o.kind, o.dtype) for o in words.outputs] == [
        ("default", "dense", "float32"),
        ("ids", "sparse", "int64"),
    ]
    default = report.signature("default")
    assert [i.name for i in default.inputs] == ["x"] and default.inputs[0].shape == (None, 3)
    entries = tf_checkpoint(models.hub_module)
    assert sorted(v.name for v in report.variables.items) == sorted(n for n, _ in entries)
    assert {v.name: v.shape for v in report.variables.items} == {n: tuple(s) for n, s in entries}
    assert report.variables.trainable == 3  # dense/kernel, dense/bias, embeddings
    assert not {v.name: v for v in report.variables.items}["bn/moving_mean"].trainable
    assert report.variables.reference == 0
    assert report.variables.checkpoint_bytes == file_bytes(models.hub_module / "variables")
    vocab_bytes = len("".join(w + "\n" for w in VOCAB))
    assert [(a.path, a.size) for a in report.assets] == [("vocab.txt", vocab_bytes)]
    assert [(a.key, a.size) for a in report.attachments] == [
        (MESSAGE_KEY, len(message().SerializeToString()))
    ]
    assert report.image is None


def test_the_module_the_original_wrote_reads_the_same(models: Any) -> None:
    ours = tfhub.inspect(models.hub_module)
    original = tfhub.inspect(models.original_module)
    assert original.format == "tf1-hub-module"
    assert [v.tags for v in original.graph_variants] == [v.tags for v in ours.graph_variants]
    for a, b in zip(original.graph_variants, ours.graph_variants, strict=True):
        assert [s.name for s in a.signatures] == [s.name for s in b.signatures]
        assert [strip(s) for s in a.signatures] == [strip(s) for s in b.signatures]
    assert sorted(v.name for v in original.variables.items) == sorted(
        v.name for v in ours.variables.items
    )
    assert original.variables.reference == 0  # resource variables: TF2 can fine-tune it


def test_reference_variables_are_counted(models: Any) -> None:
    report = tfhub.inspect(models.reference_module)
    [w] = report.variables.items
    assert (w.name, w.resource, w.dtype, w.shape) == ("w", False, "float32", (3, 2))
    assert report.variables.reference == 1


def test_image_modules(models: Any, image_specs: Any) -> None:
    import tensorflow as tf

    image_size, fixed_shape = image_specs
    report = tfhub.inspect(models.image_module)
    assert report.image is not None
    assert (report.image.height, report.image.width) == image_size
    assert report.image.channels == 3 and report.image.source == "image_module_info"
    with tf.Graph().as_default():  # what the TF1 API says about the same module
        spec = tfhub.load_module_spec(str(models.image_module))
        assert tfhub.get_expected_image_size(spec) == list(image_size)
        assert tfhub.get_num_image_channels(spec) == report.image.channels
    [attachment] = report.attachments
    assert attachment.key == "image_module_info"
    fixed = tfhub.inspect(models.fixed_image_module)
    assert fixed.attachments == () and fixed.image is not None
    assert (fixed.image.height, fixed.image.width, fixed.image.channels) == fixed_shape[1:]
    assert fixed.image.source == "input shape"


def test_plain_tf1_saved_model(models: Any, tf_checkpoint: Callable[..., Any]) -> None:
    report = tfhub.inspect(models.tf1_saved_model)
    assert report.format == "tf1-saved-model" and report.reusable is None
    [variant] = report.graph_variants
    assert variant.tags == ("serve",)
    signature = report.signature("serving_default")
    assert signature.method_name == "tensorflow/serving/predict"
    assert signature.inputs == (dense("x", "float32", (None, 3), "x:0"),)
    assert [(o.name, o.shape) for o in signature.outputs] == [("y", (None, 2))]
    assert sorted(v.name for v in report.variables.items) == sorted(
        n for n, _ in tf_checkpoint(models.tf1_saved_model)
    )
    resource = {v.name: v.resource for v in report.variables.items}
    assert resource == {"w": True, "b": False} and report.variables.reference == 1


def test_tf_keras_saved_model(models: Any, tf_checkpoint: Callable[..., Any]) -> None:
    import tensorflow as tf

    report = tfhub.inspect(models.tf_keras_saved)
    assert report.format == "keras-saved-model"
    assert report.keras is not None
    assert (report.keras.library, report.keras.object) == ("tf_keras", "sequential")
    assert report.keras.metadata_file
    reusable = report.reusable
    assert reusable is not None and reusable.ok and reusable.call_accepts_training
    loaded = tf.saved_model.load(str(models.tf_keras_saved))
    assert reusable.variables == len(loaded.variables) == 4
    assert reusable.regularization_losses == len(loaded.regularization_losses) == 1
    assert report.variables.count == len(tf_checkpoint(models.tf_keras_saved)) == 4
    [serving] = report.graph_variants[0].signatures
    assert serving.name == "serving_default" and serving.inputs[0].shape == (None, 4)


def test_keras3_export(models: Any, tf_checkpoint: Callable[..., Any]) -> None:
    import tensorflow as tf

    report = tfhub.inspect(models.keras3_export)
    assert report.format == "keras-saved-model"
    assert report.keras is not None and report.keras.library == "keras3"
    assert not report.keras.metadata_file
    reusable = report.reusable
    assert reusable is not None and not reusable.call and not reusable.ok
    names = [s.name for s in report.graph_variants[0].signatures]
    assert names == ["serve", "serving_default"]
    loaded = tf.saved_model.load(str(models.keras3_export))
    assert reusable.variables == len(loaded.variables) == 8  # Dense x2 + BatchNormalization
    assert reusable.trainable_variables == len(loaded.trainable_variables) == 6
    # The export stores each variable twice (`variables` and `_all_variables`).
    assert report.variables.count == len(tf_checkpoint(models.keras3_export)) == 16


def test_json_round_trip_and_schema(models: Any, schema_check: Callable[..., Any]) -> None:
    for path in dataclasses.astuple(models):
        report = tfhub.inspect(path)
        doc = json.loads(report.to_json())
        assert doc == report.to_dict()
        assert list(doc) == FIELDS and doc["schema"] == "tfhub.inspect/1"
        assert schema_check(doc) == [], path
        assert InspectReport.from_json(report.to_json()) == report
        assert InspectReport.from_dict(doc) == report


def test_schema_check_catches_what_is_wrong(models: Any, schema_check: Callable[..., Any]) -> None:
    doc = tfhub.inspect(models.hub_module).to_dict()
    doc["variables"]["count"] = "4"
    doc["graph_variants"][0]["signatures"][0]["inputs"][0]["kind"] = "fancy"
    del doc["image"]
    doc["extra"] = 1
    errors = "\n".join(schema_check(doc))
    for expected in ("$.variables.count", "kind", "missing image", "unexpected extra"):
        assert expected in errors


def test_from_dict_refuses_other_documents(models: Any) -> None:
    doc = tfhub.inspect(models.reusable).to_dict()
    with pytest.raises(tfhub.ModelFormatError, match=r"Not a tfhub\.inspect/1 report"):
        InspectReport.from_dict({**doc, "schema": "tfhub.inspect/2"})
    broken = json.loads(json.dumps(doc))
    broken["variables"]["count"] = "many"
    with pytest.raises(tfhub.ModelFormatError, match=r"InspectReport\.variables\.count"):
        InspectReport.from_dict(broken)
    del broken["variables"]
    with pytest.raises(tfhub.ModelFormatError, match="lacks variables"):
        InspectReport.from_dict(broken)
    with pytest.raises(tfhub.ModelFormatError, match="invalid JSON"):
        InspectReport.from_json("{")


def test_not_a_model_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(tfhub.ModelFormatError, match=r"notes\.txt"):
        tfhub.inspect(tmp_path)
    with pytest.raises(tfhub.ModelNotFoundError):
        inspect_path(tmp_path / "missing")
    with pytest.raises(tfhub.HandleError, match="reads local files"):
        inspect_path("gs://bucket/models/encoder")  # storage read in place
    (tmp_path / "saved_model.pb").write_bytes(b"\x12\x05\x0a\x03")  # a truncated MetaGraph
    with pytest.raises(tfhub.ModelFormatError, match="damaged"):
        tfhub.inspect(tmp_path)


@pytest.mark.parametrize("name", ["reusable", "hub_module", "tf_keras_saved"])
def test_damaged_files_give_model_format_errors(models: Any, tmp_path: Path, name: str) -> None:
    """Truncated or bit-flipped ``saved_model.pb`` files are read or refused with a
    ModelFormatError, never another exception (the files may be hostile)."""
    source = getattr(models, name)
    copy = tmp_path / name
    shutil.copytree(source, copy)
    data = (source / "saved_model.pb").read_bytes()
    rng = random.Random(name)
    refused = 0
    for i in range(80):
        damaged = bytearray(data)
        if i % 2:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            for _ in range(8):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        (copy / "saved_model.pb").write_bytes(bytes(damaged))
        try:
            read_model(copy)
        except tfhub.ModelFormatError:
            refused += 1
    assert refused >= 40  # every truncation breaks a message


def test_url_handles_are_resolved_first(
    models: Any, server: HubTestServer, tmp_path: Path, cache_dir: Path
) -> None:
    archive = pack_archive(models.hub_module, tmp_path / "module.tar.gz")
    server.add("/models/words/1", Route(archive.read_bytes()))
    url = server.url("/models/words/1")
    report = tfhub.inspect(url)
    assert report.handle == url and report.path.startswith(str(cache_dir))
    local = tfhub.inspect(models.hub_module)
    assert report.graph_variants == local.graph_variants
    assert report.variables == local.variables and report.assets == local.assets
    assert report.compatibility is not None
    assert (
        f"tfhub.KerasLayer({url!r}, trainable=True)" in report.compatibility.fine_tune.keras3.call
    )


def test_inspecting_never_imports_tensorflow(
    models: Any, tf_free: Callable[[str], tuple[str, set[str]]]
) -> None:
    code = (
        "import tfhub\n"
        f"for path in {[str(p) for p in dataclasses.astuple(models)]!r}:\n"
        "    report = tfhub.inspect(path)\n"
        "    assert report.graph_variants, path\n"
        "    report.to_json()\n"
        "from tfhub.inspection.render import render\n"
        "render(report)\n"
    )
    _, modules = tf_free(code)  # checks that no TensorFlow, Keras, tf_keras was imported
    assert "tfhub.inspection.read" in modules  # the probe ran


def test_models_needing_op_libraries_or_with_risky_ops(risky: Any) -> None:
    text = tfhub.inspect(risky.text)
    [library] = text.scan.op_libraries
    assert library.package == "tensorflow-text" and library.ops
    assert text.compatibility is not None
    assert any("pip install tensorflow-text" in n for n in text.compatibility.notes)
    assert text.scan.findings == ()

    writer = tfhub.inspect(risky.write_file)
    [finding] = writer.scan.high()
    assert finding.op == "WriteFile" and "function" in finding.location
    assert writer.compatibility is not None
    assert any("WriteFile" in n for n in writer.compatibility.notes)
    assert InspectReport.from_json(writer.to_json()).scan == writer.scan

    embedded = tfhub.inspect(risky.embedded)
    reads = [f for f in embedded.scan.findings if f.op == "ReadFile"]
    assert reads and all(f.severity == "medium" for f in reads)
    assert any("graph_def" in f.location for f in reads)  # found inside the nested graph
    assert embedded.scan.high() == ()


@pytest.mark.parametrize("name", ["reusable", "hub_module", "tf1_saved_model"])
def test_a_model_without_its_checkpoint_is_reported_damaged(
    models: Any, tmp_path: Path, name: str, schema_check: Callable[..., Any]
) -> None:
    """``cp -r model copy; rm -rf copy/variables``: the variables are declared (object graph
    or collections) but nothing holds their values; nothing loads, and the report says so."""
    copy = Path(shutil.copytree(getattr(models, name), tmp_path / name))
    shutil.rmtree(copy / "variables")
    report = tfhub.inspect(copy)
    [problem] = report.problems
    count = report.variables.count
    assert count > 0 and report.variables.checkpoint_files == 0
    assert problem == (
        f"The model is damaged: saved_model.pb declares {count} variables but there is no "
        "checkpoint to restore them from: the variables/ directory is missing. Copy or "
        "download the model again, with all of its variables/ directory."
    )
    table = report.compatibility
    assert table is not None and table.notes[0] == problem
    for row in (table.load, table.fine_tune):
        for cell in (row.tf1_compat, row.tf2_tf_keras, row.keras3):
            assert not cell.works and "damaged" in cell.note and cell.call
    intact = inspect_path(getattr(models, name), handle=str(copy))
    assert intact.compatibility is not None and table.create == intact.compatibility.create
    doc = json.loads(report.to_json())
    assert doc["problems"] == [problem] and schema_check(doc) == []
    assert InspectReport.from_json(report.to_json()) == report


def test_intact_models_have_no_problems_and_older_reports_read_without_them(
    models: Any, schema_check: Callable[..., Any]
) -> None:
    report = tfhub.inspect(models.hub_module)
    assert report.problems == ()
    doc = report.to_dict()
    del doc["problems"]  # a report stored by a tfhub from before the field
    assert schema_check(doc) == []
    assert InspectReport.from_dict(doc) == report
    with pytest.raises(tfhub.ModelFormatError, match="lacks scan"):
        InspectReport.from_dict({k: v for k, v in doc.items() if k != "scan"})


def test_a_missing_checkpoint_shard_is_named(models: Any, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(models.reusable, tmp_path / "m"))
    data = copy / "variables" / "variables.data-00000-of-00001"
    data.rename(copy / "variables" / "variables.data-00001-of-00002")
    [problem] = tfhub.inspect(copy).problems
    assert "the checkpoint is incomplete: variables/variables.data-00000-of-00002 is missing" in (
        problem
    )
