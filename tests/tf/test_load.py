"""``tfhub.load``: format detection, loading TF2 and TF1 SavedModels, and clear errors."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfhub
from support.models import reference_output, save_reusable_model
from support.server import HubTestServer, Route
from tfhub.config import Settings
from tfhub.core.formats import TF1_SAVED_MODEL, TF2_SAVED_MODEL, detect_format
from tfhub.core.pack import pack_archive
from tfhub.inspection.load_scan import check_before_load
from tfhub.tf._import import read_file

X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]], np.float32)


@pytest.fixture(scope="module")
def reusable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_reusable_model(tmp_path_factory.mktemp("models") / "reusable")


def _save_tf1_saved_model(path: Path) -> None:
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        w = tf.compat.v1.get_variable("w", initializer=tf.constant([[1.0], [2.0], [3.0]]))
        y = tf.nn.relu(tf.matmul(x, w), name="y")
        sess.run(tf.compat.v1.global_variables_initializer())
        builder = tf.compat.v1.saved_model.Builder(str(path))
        signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map={"serving_default": signature}
        )
        builder.save()


def test_loads_a_tf2_saved_model_with_its_outputs(reusable: Path) -> None:
    model = tfhub.load(str(reusable))
    np.testing.assert_allclose(model(X), reference_output(X), rtol=1e-6)
    assert sorted(model.signatures) == ["embed", "serving_default"]
    assert detect_format(reusable).kind == TF2_SAVED_MODEL


def test_loads_through_an_http_handle(
    reusable: Path, tmp_path: Path, server: HubTestServer
) -> None:
    archive = pack_archive(reusable, tmp_path / "m.tar.gz")
    server.add("/models/reusable/1", Route(archive.read_bytes()))
    model = tfhub.load(server.url("/models/reusable/1"))
    np.testing.assert_allclose(model(X), reference_output(X), rtol=1e-6)


def test_loads_a_tf1_saved_model(tmp_path: Path) -> None:
    _save_tf1_saved_model(tmp_path / "tf1")
    assert detect_format(tmp_path / "tf1").kind == TF1_SAVED_MODEL
    model = tfhub.load(str(tmp_path / "tf1"), tags=["serve"])
    out = model.signatures["serving_default"](x=tf.constant([[1.0, 1.0, 1.0]]))
    assert float(out["y"][0, 0]) == pytest.approx(6.0)


def test_a_directory_without_a_model_says_what_it_found(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("hi")
    (tmp_path / "weights.h5").write_bytes(b"x")
    with pytest.raises(tfhub.ModelFormatError) as info:
        tfhub.load(str(tmp_path))
    message = str(info.value)
    assert "no saved_model.pb" in message and "README.txt, weights.h5" in message
    assert "TF1 Hub module" in message


def test_a_damaged_saved_model_pb_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"\x12\xff\xff\xff\x0f")
    with pytest.raises(tfhub.ModelFormatError, match="damaged"):
        tfhub.load(str(tmp_path))


def test_an_unregistered_op_names_the_package_to_install(tmp_path: Path) -> None:
    from tensorflow.core.protobuf import saved_model_pb2

    _save_tf1_saved_model(tmp_path / "m")
    pb = tmp_path / "m" / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    [relu] = [n for n in proto.meta_graphs[0].graph_def.node if n.op == "Relu"]
    # tensorflow-addons is not installed (tensorflow-text is: other tests register its ops)
    relu.op = "Addons>ImageProjectiveTransformV2"
    pb.write_bytes(proto.SerializeToString())
    with pytest.raises(tfhub.MissingOpError) as info:
        tfhub.load(str(tmp_path / "m"), tags=["serve"])
    assert "'Addons>ImageProjectiveTransformV2'" in str(info.value)
    assert "tensorflow-addons" in str(info.value)


def test_missing_model_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(tfhub.ModelNotFoundError):
        tfhub.load(str(tmp_path / "nothing"))


def test_conventions_check_passes_a_reusable_model(reusable: Path) -> None:
    report = tfhub.check_reusable_saved_model(str(reusable))
    assert report.ok, str(report)
    assert report.call_accepts_training


def test_conventions_check_catches_a_plain_tf_module_root(tmp_path: Path) -> None:
    class Plain(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return x * self.w

    tf.saved_model.save(Plain(), str(tmp_path / "plain"))
    report = tfhub.check_reusable_saved_model(str(tmp_path / "plain"))
    assert not report.ok
    assert any("`variables`" in p and "tf.Module" in p for p in report.problems)
    assert any("`trainable_variables`" in p for p in report.problems)
    assert not report.call_accepts_training
    assert "does not meet" in str(report)


def test_conventions_check_refuses_tf1_models(tmp_path: Path) -> None:
    _save_tf1_saved_model(tmp_path / "tf1")
    with pytest.raises(tfhub.ModelFormatError, match="not a TF2 SavedModel"):
        tfhub.check_reusable_saved_model(str(tmp_path / "tf1"))


def _copy_without(source: Path, target: Path, *missing: str) -> Path:
    """A copy of the model ``source`` with the files or directories ``missing`` deleted."""
    shutil.copytree(source, target)
    for name in missing:
        path = target / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


def test_a_missing_checkpoint_is_a_format_error_naming_it(reusable: Path, tmp_path: Path) -> None:
    """``cp -r model copy; rm -rf copy/variables``: TensorFlow's own error is a raw
    FileNotFoundError from deep inside; tfhub refuses it before loading, saying why."""
    copy = _copy_without(reusable, tmp_path / "novars", "variables")
    with pytest.raises(tfhub.ModelFormatError) as info:
        tfhub.load(str(copy))
    message = str(info.value)
    assert message.startswith(f"{copy} is damaged: saved_model.pb declares 4 variables")
    assert "the variables/ directory is missing" in message
    with pytest.raises(tfhub.ModelFormatError, match="variables/ directory is missing"):
        tfhub.KerasLayer(str(copy))
    with pytest.raises(FileNotFoundError):  # what TensorFlow says without the check
        tf.saved_model.load(str(copy))


def test_a_missing_checkpoint_shard_is_a_format_error_naming_it(
    reusable: Path, tmp_path: Path
) -> None:
    copy = _copy_without(reusable, tmp_path / "noshard", "variables/variables.data-00000-of-00001")
    with pytest.raises(
        tfhub.ModelFormatError,
        match=r"checkpoint is incomplete: variables/variables\.data-\* is missing",
    ):
        tfhub.load(str(copy))
    copy = _copy_without(reusable, tmp_path / "noindex", "variables/variables.index")
    with pytest.raises(tfhub.ModelFormatError, match=r"variables/variables\.index is missing"):
        tfhub.load(str(copy))


def test_a_remote_model_that_cannot_be_read_for_the_scan_is_a_format_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The scan reads a model in storage (``gs://``, ``s3://``) with the reader ``tfhub.load``
    and ``load_module_spec`` use: TensorFlow's errors become a ModelFormatError, which
    ``TFHUB_SCAN=warn`` logs and ``block`` refuses (not a raw ``NotFoundError``)."""
    missing = "ram://tfhub-test-missing/model"  # TensorFlow's in-memory file system
    with pytest.raises(
        tfhub.ModelFormatError,
        match=re.escape(f"Cannot read {missing}/saved_model.pb: NotFoundError"),
    ):
        read_file(f"{missing}/saved_model.pb")
    with caplog.at_level(logging.WARNING, logger="tfhub"):
        scanned = check_before_load(
            "gs://bucket/model", missing, settings=Settings(scan="warn"), read=read_file
        )
    assert scanned is None
    assert any(
        r.getMessage().startswith("Could not scan gs://bucket/model for risky operations: Cannot")
        for r in caplog.records
    )
    with pytest.raises(tfhub.ModelFormatError, match=r"cannot be scanned .* refuses"):
        check_before_load(
            "gs://bucket/model", missing, settings=Settings(scan="block"), read=read_file
        )
