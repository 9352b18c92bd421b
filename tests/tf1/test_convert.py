"""``tfhub convert`` / ``tfhub.convert``: the TF1 fixture module (``hub_fixture``) converted once
into a TF2 Reusable SavedModel, then checked against the module: outputs of every signature
(sparse input included), variables, regularization losses, batch-norm statistics under
``training``, fine-tuning in Keras 3, assets, attached messages and provenance; and the
command: exit codes, the printed differences, refusals, ``--overwrite``, ``--tags``, and that
a failed or interrupted conversion leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

import tfhub
from support.server import HubTestServer, Route
from tf1.hub_fixture import (
    KERNEL,
    MESSAGE_KEY,
    MOMENTUM,
    REGULARIZATION,
    TRAINABLE_VARIABLES,
    VARIABLES,
    WORDS,
    X,
    Y,
    batch_mean,
    dense_reference,
    export_module,
    message,
    sparse_tensor,
    words_inputs,
    words_reference,
)
from tfhub.cli.main import cli
from tfhub.core.hub_module import TensorSpecInfo
from tfhub.core.pack import pack_archive
from tfhub.errors import ConvertError, ExportError, UnsafeModelError
from tfhub.tf1.convert_info import read_attachments
from tfhub.tf1.sample_inputs import BATCH, OOV_WORDS, sample_input, vocabulary_words


@dataclass(frozen=True)
class Converted:
    report: tfhub.tf1.convert_info.ConvertReport
    path: Path
    source: Path  # deleted after converting


@pytest.fixture(scope="module")
def converted(hub_module: Path, tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """The fixture module copied, converted, and the copy deleted: the converted model must
    not need it (assets copied, tables initialised from the copy)."""
    work = tmp_path_factory.mktemp("convert")
    source = work / "source"
    shutil.copytree(hub_module, source)
    report = tfhub.convert(str(source), str(work / "tf2"))
    shutil.rmtree(source)
    return Converted(report, work / "tf2", source)


def _load(converted: Converted) -> Any:
    return tf.saved_model.load(str(converted.path))  # a fresh load each time


def _variable(model: Any, name: str) -> Any:
    [variable] = [v for v in model.variables if v.name == f"{name}:0"]
    return variable


# -- what was written -------------------------------------------------------------------


def test_report_files_provenance_and_attachments(converted: Converted) -> None:
    report, path = converted.report, converted.path
    assert report.verified and report.max_difference == 0.0
    assert report.differences == {"default": 0.0, "words": 0.0}
    assert report.inference_tags == () and report.train_tags == ("train",)
    assert report.serving_signatures == {
        "default": "default", "serving_default": "default", "words": "words",
    }  # fmt: skip
    assert (report.variables, report.trainable_variables, report.regularization_losses) == (4, 3, 2)
    assert report.assets == ("vocab.txt",) and report.attachments == (MESSAGE_KEY,)
    assert "verified: largest difference 0 (tolerance 1e-05)" in report.summary()
    assert sorted(os.listdir(path)) == [
        "assets", "assets.extra", "fingerprint.pb", "saved_model.pb", "variables",
    ]  # fmt: skip
    assert (path / "assets" / "vocab.txt").read_text() == "a\nb\nc\n"
    assert sorted(os.listdir(path.parent)) == ["tf2"]  # no staging leftovers, source gone
    provenance = json.loads((path / "assets.extra" / "tfhub_convert.json").read_text())
    assert provenance["source"] == str(converted.source)
    assert provenance["converted_by"] == {"tfhub": tfhub.__version__, "tensorflow": tf.__version__}
    assert provenance["verified"] is True and provenance["differences"]["words"] == 0.0
    attachments = read_attachments(path)
    assert tf.compat.v1.HistogramProto.FromString(attachments[MESSAGE_KEY]) == message()
    assert read_attachments(path, ["train"]) == attachments
    # Nothing in the SavedModel points back at the source module.
    assert str(converted.source).encode() not in (path / "saved_model.pb").read_bytes()


def test_the_result_meets_the_reusable_saved_model_conventions(converted: Converted) -> None:
    check = tfhub.check_reusable_saved_model(str(converted.path))
    assert check.ok, check
    assert check.call_accepts_training


# -- the same computation ------------------------------------------------------------------


def test_every_signature_gives_the_modules_outputs(converted: Converted, hub_module: Path) -> None:
    model = _load(converted)
    source = tfhub.load(str(hub_module))  # the TF1 path: the inference variant
    x = tf.constant(X)
    expected = source.signatures["default"](x=x)
    np.testing.assert_allclose(expected["default"].numpy(), dense_reference(X), rtol=1e-6)
    # __call__: the default output, for the tensor or a dict of inputs
    np.testing.assert_array_equal(model(x).numpy(), expected["default"].numpy())
    np.testing.assert_array_equal(model({"x": x}).numpy(), expected["default"].numpy())
    for outputs in (
        model.signature_functions["default"](x),
        model.default({"x": x}),
        model.signatures["default"](x=x),
        model.signatures["serving_default"](x=x),
    ):
        assert sorted(outputs) == ["default", "hidden"]
        for key in ("default", "hidden"):
            np.testing.assert_array_equal(outputs[key].numpy(), expected[key].numpy())

    # The sparse input signature, the vocabulary asset read from the converted model's copy.
    expected = source.signatures["words"](**words_inputs(WORDS))
    np.testing.assert_allclose(expected["default"].numpy(), words_reference(WORDS))
    words = sparse_tensor(WORDS)
    for outputs in (model.signature_functions["words"](words), model.words(words)):
        np.testing.assert_array_equal(outputs["default"].numpy(), expected["default"].numpy())
        assert isinstance(outputs["ids"], tf.SparseTensor)
        assert outputs["ids"].values.numpy().tolist() == [0, 2, 3, 1, 1, 0]  # 3: out of vocab
        np.testing.assert_array_equal(outputs["ids"].indices, expected["ids"].indices)
    flat = model.signatures["words"](**words_inputs(WORDS))
    assert sorted(flat) == ["default", "ids_dense_shape", "ids_indices", "ids_values"]
    np.testing.assert_array_equal(flat["default"].numpy(), expected["default"].numpy())
    np.testing.assert_array_equal(flat["ids_values"].numpy(), expected["ids"].values.numpy())


def test_variables_and_regularization_losses_equal_the_modules(
    converted: Converted, hub_module: Path
) -> None:
    model = _load(converted)
    assert sorted(v.name for v in model.variables) == VARIABLES
    assert sorted(v.name for v in model.trainable_variables) == TRAINABLE_VARIABLES
    checkpoint = tf.train.load_checkpoint(str(hub_module / "variables" / "variables"))
    for variable in model.variables:
        name = variable.name.split(":")[0]
        np.testing.assert_array_equal(variable.numpy(), checkpoint.get_tensor(name))
    np.testing.assert_array_equal(_variable(model, "dense/kernel").numpy(), KERNEL)
    losses = sorted(float(loss()) for loss in model.regularization_losses)
    np.testing.assert_allclose(losses, REGULARIZATION, rtol=1e-6)


def test_training_updates_batch_norm_statistics_and_inference_does_not(
    converted: Converted,
) -> None:
    model = _load(converted)
    moving_mean = _variable(model, "bn/moving_mean")
    model(X)
    model(X, training=False)
    model.signature_functions["default"](X)
    model.signatures["serving_default"](x=tf.constant(X))
    np.testing.assert_array_equal(moving_mean.numpy(), [0.0, 0.0])

    outputs = model.signature_functions["default"](X, training=True)
    expected = (1 - MOMENTUM) * batch_mean()
    np.testing.assert_allclose(moving_mean.numpy(), expected, rtol=1e-6)
    # the train variant: batch mean subtracted, then dropout (zeros or doubled values)
    centred = dense_reference(X) - batch_mean()
    got = outputs["default"].numpy()
    assert np.all(np.isclose(got, 0.0, atol=1e-6) | np.isclose(got, 2 * centred, rtol=1e-5))
    model(X, training=True)  # __call__ too
    np.testing.assert_allclose(moving_mean.numpy(), expected * (1 + MOMENTUM), rtol=1e-5)
    # inference reads the updated statistics
    np.testing.assert_allclose(
        model(X).numpy(), dense_reference(X) - expected * (1 + MOMENTUM), rtol=1e-5, atol=1e-6
    )


def test_keras3_fine_tunes_the_converted_model(converted: Converted) -> None:
    import keras

    layer = tfhub.KerasLayer(str(converted.path), trainable=True)
    assert isinstance(layer, keras.layers.Layer)
    head = keras.layers.Dense(1, kernel_initializer="ones", name="head")
    model = keras.Sequential([keras.Input([3]), layer, head])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    assert len(layer.trainable_weights) == 3 and len(layer.non_trainable_weights) == 1
    assert sum(float(loss) for loss in model.losses) == pytest.approx(sum(REGULARIZATION))
    np.testing.assert_allclose(
        model.predict(X, verbose=0), dense_reference(X).sum(axis=1, keepdims=True), rtol=1e-5
    )
    before = model.evaluate(X, Y, verbose=0)
    model.fit(X, Y, epochs=30, batch_size=4, verbose=0)
    after = model.evaluate(X, Y, verbose=0)
    assert after < before, (before, after)
    [moving_mean] = layer.non_trainable_weights
    assert not np.allclose(keras.ops.convert_to_numpy(moving_mean), 0.0)  # update ops ran
    kernels = [w for w in layer.trainable_weights if "kernel" in w.name]
    assert not np.allclose(keras.ops.convert_to_numpy(kernels[0]), KERNEL)


def test_the_modules_from_the_original_library_convert(
    original_module: Path, tmp_path: Path
) -> None:
    report = tfhub.convert(original_module, tmp_path / "tf2")
    assert report.verified and report.differences == {"default": 0.0, "words": 0.0}
    model = tf.saved_model.load(str(tmp_path / "tf2"))
    np.testing.assert_allclose(model(X).numpy(), dense_reference(X), rtol=1e-6)
    words = model.signature_functions["words"](sparse_tensor(WORDS))["default"]
    np.testing.assert_allclose(words.numpy(), words_reference(WORDS))


def _ragged_and_multi_input_module_fn() -> None:
    v1 = tf.compat.v1
    scale = v1.get_variable("scale", initializer=np.float32(2.0))
    ragged = v1.ragged.placeholder(tf.float32, ragged_rank=1, value_shape=[])
    tfhub.add_signature(
        inputs={"r": ragged},
        outputs={"default": tf.reduce_sum(ragged, axis=1) * scale, "doubled": ragged * scale},
    )
    ids = v1.placeholder(tf.int32, [None, None])
    mask = v1.placeholder(tf.bool, [None, None])
    text = v1.placeholder(tf.string, [None])
    count = tf.reduce_sum(tf.cast(mask, tf.int32) * ids, axis=1)
    known = tf.lookup.StaticHashTable(  # a table without an asset
        tf.lookup.KeyValueTensorInitializer(["ab", "cd"], [1, 2], tf.string, tf.int64), -1
    )
    tfhub.add_signature(
        "multi",
        inputs={"ids": ids, "mask": mask, "text": text},
        outputs={
            "count": count,
            "known": known.lookup(text),
            "upper": tf.strings.upper(text),
            "scaled": tf.cast(count, tf.float32) * scale,
        },
    )


def test_ragged_inputs_and_several_typed_inputs_convert(tmp_path: Path) -> None:
    export_module(tfhub.create_module_spec(_ragged_and_multi_input_module_fn), tmp_path / "module")
    report = tfhub.convert(tmp_path / "module", tmp_path / "tf2")
    assert report.verified and report.differences == {"default": 0.0, "multi": 0.0}
    no_train = "inference {}; training runs the inference variant (the module has no train variant)"
    assert f"graph variants: {no_train}\n" in report.summary()
    code, _, err = _run(str(tmp_path / "module"), str(tmp_path / "x"), "--tags", "train")
    assert code == 1 and not (tmp_path / "x").exists()
    assert "No graph variant with tags {train} in " in err and "Available: {} (inference)." in err
    model = tf.saved_model.load(str(tmp_path / "tf2"))
    ragged = tf.ragged.constant([[1.0, 2.0], [], [3.0]])
    np.testing.assert_array_equal(model(ragged).numpy(), [6.0, 0.0, 6.0])
    doubled = model.signature_functions["default"](ragged)["doubled"]
    assert doubled.to_list() == [[2.0, 4.0], [], [6.0]]
    flat = model.signatures["default"](
        r_component_0=ragged.flat_values, r_component_1=ragged.row_splits
    )
    assert sorted(flat) == ["default", "doubled_component_0", "doubled_component_1"]
    inputs = {"ids": tf.constant([[1, 2]]), "mask": tf.constant([[True, False]])}
    outputs = model.multi({**inputs, "text": tf.constant(["cd"])})
    assert outputs["count"].numpy().tolist() == [1] and outputs["upper"].numpy().tolist() == [b"CD"]
    assert outputs["known"].numpy().tolist() == [2]


def test_sample_inputs_fit_their_specs(hub_module: Path) -> None:
    words = vocabulary_words(str(hub_module), tfhub.load_module_spec(hub_module).variant().assets)
    assert words == ["a", "b", "c", *OOV_WORDS]
    rng = np.random.default_rng(0)
    sparse = sample_input(TensorSpecInfo("sparse", "string", (None, None), ()), words, rng)
    assert sparse.dense_shape.numpy().tolist() == [BATCH, 3]
    tf.sparse.reorder(sparse)  # valid indices
    assert set(sparse.values.numpy()) <= {w.encode() for w in words}
    ragged_info = TensorSpecInfo("ragged", "int64", (None, None, 4), (), 1, "int32")
    ragged = sample_input(ragged_info, words, rng)
    assert isinstance(ragged, tf.RaggedTensor) and ragged.row_splits.dtype == tf.int32
    assert ragged.shape[0] == BATCH and ragged.shape[2] == 4
    dense = sample_input(TensorSpecInfo("dense", "bool", (None, 5), ("x:0",)), words, rng)
    assert dense.shape == (BATCH, 5) and dense.dtype == tf.bool


# -- safety ---------------------------------------------------------------------------------


def test_a_failed_verification_leaves_nothing_and_the_tolerance_decides(
    hub_module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source's float outputs shifted by 1e-3 stand for a conversion that is off by that
    much: beyond the default tolerance it fails, within a looser one it passes."""
    import tfhub.tf1.convert_verify as convert_verify

    real = convert_verify._run_source

    def shifted(*args: Any) -> dict[str, Any]:
        return {k: v + 1e-3 if v.dtype.is_floating else v for k, v in real(*args).items()}

    monkeypatch.setattr(convert_verify, "_run_source", shifted)
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "keep.txt").write_text("the previous model")
    with pytest.raises(ConvertError, match=r"output 'hidden' differs by 0\.001") as caught:
        tfhub.convert(hub_module, dst, overwrite=True)
    assert "Nothing was written to the destination" in str(caught.value)
    assert os.listdir(dst) == ["keep.txt"]  # the old content is untouched
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging directory left

    report = tfhub.convert(hub_module, tmp_path / "loose", tolerance=1e-2)
    assert report.verified
    assert report.differences["default"] == pytest.approx(1e-3, rel=1e-3)


def test_an_interrupted_conversion_leaves_nothing(
    hub_module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tfhub.tf1.convert as convert_module

    def interrupt(*args: Any) -> None:
        assert len([p for p in os.listdir(tmp_path) if ".tfhub-convert-" in p]) == 1
        raise KeyboardInterrupt

    monkeypatch.setattr(convert_module, "verify", interrupt)
    with pytest.raises(KeyboardInterrupt):
        tfhub.convert(hub_module, tmp_path / "out")
    assert os.listdir(tmp_path) == []


def test_sigterm_during_the_cli_leaves_nothing(hub_module: Path, tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "tfhub", "convert", str(hub_module), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(".tfhub-convert-" in p for p in os.listdir(tmp_path)):
            assert process.poll() is None, "the conversion ended before it could be stopped"
            assert time.monotonic() < deadline, "no staging directory appeared"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    assert os.listdir(tmp_path) == []


def test_a_tf2_saved_model_and_a_non_empty_destination_are_refused(
    converted: Converted, hub_module: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConvertError, match="is already TF2"):
        tfhub.convert(converted.path, tmp_path / "again")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    with pytest.raises(ExportError, match=r"not empty.*--overwrite"):
        tfhub.convert(hub_module, tmp_path / "full")
    with pytest.raises(ExportError, match="must not be the source module"):
        tfhub.convert(hub_module, hub_module / "inside", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["full"]


def test_a_remote_module_is_scanned_before_it_is_converted(
    tmp_path: Path, server: HubTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Converting runs the module (verification), so a module from a remote handle gets the
    risky-op scan ``tfhub.load`` gives it: ``TFHUB_SCAN=block`` refuses it before it runs."""
    planted = tmp_path / "planted.txt"

    def module_fn() -> None:
        x = tf.compat.v1.placeholder(tf.string, [])
        v = tf.compat.v1.get_variable("v", initializer=1.0)
        write = tf.io.write_file(str(planted), x)
        with tf.control_dependencies([write]):
            tfhub.add_signature(inputs=x, outputs={"default": tf.identity(x), "v": v + 0.0})

    module = export_module(tfhub.create_module_spec(module_fn), tmp_path / "risky")
    archive = pack_archive(module, tmp_path / "risky.tar.gz")
    server.add("/models/risky/1", Route(archive.read_bytes()))
    url = server.url("/models/risky/1")
    monkeypatch.setenv("TFHUB_SCAN", "block")
    with pytest.raises(UnsafeModelError, match=f"(?s)^Refusing to load {url}: .*WriteFile"):
        tfhub.convert(url, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["cache", "risky", "risky.tar.gz"]  # nothing ran


# -- the command ----------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["convert", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_prints_progress_and_the_largest_difference(
    original_module: Path, tmp_path: Path
) -> None:
    """A real process: exit code, progress on stderr, the summary on stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "tfhub", "convert", str(original_module), str(tmp_path / "m")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for step in ("loading", "converting", "saving", "verifying"):
        assert f"\n{step} " in "\n" + proc.stderr, proc.stderr[-3000:]
    assert "max difference default: 0\n" in proc.stdout
    assert "max difference words: 0\n" in proc.stdout
    assert proc.stdout.rstrip().endswith("verified: largest difference 0 (tolerance 1e-05)")
    assert (tmp_path / "m" / "saved_model.pb").is_file()


def test_cli_refuses_a_tf2_saved_model_and_an_unknown_variant(
    converted: Converted, hub_module: Path, tmp_path: Path
) -> None:
    code, out, err = _run(str(converted.path), str(tmp_path / "x"))
    assert code == 1 and out == ""
    assert err.startswith(f"error: {converted.path} is already TF2")
    code, _, err = _run(str(hub_module), str(tmp_path / "x"), "--tags", "serve")
    assert code == 1 and "No graph variant with tags {serve}" in err
    assert os.listdir(tmp_path) == []


def test_cli_overwrite_no_verify_and_tags(hub_module: Path, tmp_path: Path) -> None:
    dst = tmp_path / "m"
    dst.mkdir()
    (dst / "old.txt").write_text("old")
    code, _, err = _run(str(hub_module), str(dst))
    assert code == 1 and "not empty" in err and "--overwrite" in err
    code, out, _ = _run(str(hub_module), str(dst), "--overwrite", "--no-verify")
    assert code == 0 and "verification: skipped" in out
    assert not (dst / "old.txt").exists() and (dst / "saved_model.pb").is_file()

    # --tags picks the inference variant: here `train`, whose dropout makes `default` random
    code, out, _ = _run(str(hub_module), str(tmp_path / "t"), "--tags", "train", "--tolerance", "0")
    assert code == 0, out
    assert "graph variants: inference {train}, training {train}" in out
    assert "not compared (random in the source module): default:default" in out
    model = tf.saved_model.load(str(tmp_path / "t"))
    hidden = model.signature_functions["default"](X)["hidden"]
    np.testing.assert_allclose(hidden.numpy(), dense_reference(X), rtol=1e-6)
    np.testing.assert_array_equal(_variable(model, "bn/moving_mean").numpy(), [0.0, 0.0])
