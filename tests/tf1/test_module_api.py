"""The TF1 Hub module API inside ``with tf.Graph().as_default():`` in TF2 (the same code runs
in TF1 compatibility mode in ``test_compat_mode.py``): instantiation, collections, training,
several instances and calls, export and reload."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfhub.tf1 as hub
from tf1.hub_fixture import (
    BIAS,
    EMBEDDINGS,
    KERNEL,
    L2,
    MESSAGE_KEY,
    MOMENTUM,
    WORDS,
    X,
    dense_reference,
    message,
    sparse_words,
    words_reference,
)
from tfhub.errors import (
    ExportError,
    GraphModeError,
    ModelFormatError,
    ModuleCallError,
    ModuleLookupError,
)

v1 = tf.compat.v1
KEYS = v1.GraphKeys


@pytest.fixture
def graph() -> Iterator[tf.Graph]:
    with tf.Graph().as_default() as g:
        yield g


def _session() -> Any:
    session = v1.Session()
    session.run([v1.global_variables_initializer(), v1.tables_initializer()])
    return session


def _names(key: str) -> list[str]:
    return sorted(getattr(item, "name", str(item)) for item in v1.get_collection(key))


def test_spec_describes_variants_signatures_and_attachments(hub_module: Path) -> None:
    spec = hub.load_module_spec(str(hub_module))
    assert spec.get_tags() == [frozenset(), frozenset({"train"})]
    assert spec.get_signature_names() == spec.get_signature_names({"train"}) == ["default", "words"]
    x = spec.get_input_info_dict()["x"]
    assert (x.dtype, x.get_shape().as_list(), x.is_sparse, x.is_composite) == (
        tf.float32, [None, 3], False, False,
    )  # fmt: skip
    words = spec.get_input_info_dict("words", tags={"train"})["words"]
    assert words.is_sparse and words.dtype == tf.string
    assert words.type_spec == tf.SparseTensorSpec([None, None], tf.string)
    assert set(spec.get_output_info_dict("words")) == {"default", "ids"}
    got = spec.get_attached_message(MESSAGE_KEY, tf.compat.v1.HistogramProto)
    assert got == message()
    assert spec.get_attached_message("nothing", tf.compat.v1.HistogramProto) is None
    with pytest.raises(KeyError, match=r"No message attached under 'nothing'.*fixture_info"):
        spec.get_attached_message("nothing", tf.compat.v1.HistogramProto, required=True)


def test_inference_outputs_and_collections(hub_module: Path, graph: tf.Graph) -> None:
    module = hub.Module(str(hub_module))
    dense = module(X, as_dict=True)
    words = module(sparse_words(WORDS), signature="words", as_dict=True)
    assert _names(KEYS.GLOBAL_VARIABLES) == [
        "module/bn/moving_mean:0", "module/dense/bias:0", "module/dense/kernel:0",
        "module/embeddings:0",
    ]  # fmt: skip
    for key in (KEYS.TRAINABLE_VARIABLES, KEYS.REGULARIZATION_LOSSES, KEYS.UPDATE_OPS):
        assert _names(key) == [], key
    assert _names(KEYS.TABLE_INITIALIZERS) == [
        "module/text_file_init/InitializeTableFromTextFileV2"
    ]
    assert "module/asset_path:0" in _names(KEYS.ASSET_FILEPATHS)
    with _session() as session:
        values = session.run({"dense": dense, "words": words})
        assets = session.run(v1.get_collection(KEYS.ASSET_FILEPATHS))
    np.testing.assert_allclose(values["dense"]["default"], dense_reference(X), rtol=1e-6)
    np.testing.assert_allclose(values["dense"]["hidden"], dense_reference(X), rtol=1e-6)
    np.testing.assert_allclose(values["words"]["default"], words_reference(WORDS))
    assert values["words"]["ids"].values.tolist() == [0, 2, 3, 1, 1, 0]
    expected = os.path.realpath(hub_module / "assets" / "vocab.txt").encode()
    assert {os.path.realpath(p) for p in assets} == {expected}


def _train(module: hub.Module, steps: int) -> tuple[Any, Any]:
    """A GradientDescent train op on mean(output^2) + regularization losses, run after the
    update ops; returns (train op, loss)."""
    output = module(X)
    loss = tf.reduce_mean(tf.square(output))
    losses = v1.get_collection(KEYS.REGULARIZATION_LOSSES)
    if losses:
        loss += tf.add_n(losses)
    with tf.control_dependencies(v1.get_collection(KEYS.UPDATE_OPS)):
        return v1.train.GradientDescentOptimizer(0.1).minimize(loss), loss


def test_fine_tuning_the_train_variant(hub_module: Path, graph: tf.Graph) -> None:
    module = hub.Module(str(hub_module), trainable=True, tags={"train"})
    words = module(sparse_words(WORDS), signature="words")  # adds no update op
    train, _ = _train(module, 3)
    assert _names(KEYS.UPDATE_OPS) == ["module_apply_default/AssignVariableOp"]
    assert _names(KEYS.TRAINABLE_VARIABLES) == [
        "module/dense/bias:0", "module/dense/kernel:0", "module/embeddings:0",
    ]  # fmt: skip
    assert len(v1.get_collection(KEYS.UPDATE_OPS)) == 1
    assert len(v1.get_collection(KEYS.REGULARIZATION_LOSSES)) == 2
    with _session() as session:
        losses = session.run(v1.get_collection(KEYS.REGULARIZATION_LOSSES))
        hidden = session.run(module(X, as_dict=True)["hidden"])
        session.run(train)  # runs the update ops: no feed is missing
        session.run(words)
        after = session.run(module.variable_map)
    assert sorted(losses) == pytest.approx(
        sorted([L2 * float(np.sum(KERNEL**2)), L2 * float(np.sum(EMBEDDINGS**2))]), rel=1e-5
    )
    assert not np.allclose(after["dense/kernel"], KERNEL)
    # The bias is not asserted: with batch-centred outputs its gradient is ~0 (cancels out).
    assert not np.allclose(after["embeddings"], EMBEDDINGS)  # only its L2 term trains it
    expected_mean = (1 - MOMENTUM) * hidden.mean(axis=0)
    np.testing.assert_allclose(after["bn/moving_mean"], expected_mean, rtol=1e-5)


def test_inference_variant_never_updates_moving_averages(hub_module: Path, graph: tf.Graph) -> None:
    module = hub.Module(str(hub_module), trainable=True)
    train, _ = _train(module, 3)
    assert v1.get_collection(KEYS.UPDATE_OPS) == []
    with _session() as session:
        for _ in range(3):
            session.run(train)
        after = session.run(module.variable_map)
    np.testing.assert_array_equal(after["bn/moving_mean"], np.zeros(2))
    assert not np.allclose(after["dense/kernel"], KERNEL)


def test_instances_have_their_own_state_and_calls_share_it(
    hub_module: Path, graph: tf.Graph
) -> None:
    first, second = hub.Module(str(hub_module)), hub.Module(str(hub_module), name="module")
    calls = [first(X), first(X), second(X)]
    assert [t.name.split("/")[0] for t in calls] == [
        "module_apply_default", "module_apply_default_1", "module_1_apply_default",
    ]  # fmt: skip
    with _session() as session:
        session.run(first.variable_map["dense/bias"].assign(BIAS + 1.0))
        a, b, c = session.run(calls)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(c, dense_reference(X), rtol=1e-6)
    assert not np.allclose(a, c)


def test_nested_scopes_and_variable_map_keys(hub_module: Path, graph: tf.Graph) -> None:
    with tf.name_scope("outer"):
        module = hub.Module(str(hub_module), name="encoder")
        output = module(X)
    assert output.name.startswith("outer/encoder_apply_default/")
    assert sorted(module.variable_map) == [
        "bn/moving_mean", "dense/bias", "dense/kernel", "embeddings",
    ]  # fmt: skip
    assert [v.name for v in module.variables][:1] == ["outer/encoder/bn/moving_mean:0"]


def test_trained_weights_export_and_reload(hub_module: Path, tmp_path: Path) -> None:
    with tf.Graph().as_default():
        module = hub.Module(str(hub_module), trainable=True, tags={"train"})
        train, _ = _train(module, 2)
        with _session() as session:
            session.run(train)
            trained = session.run(module.variable_map)
            module.export(str(tmp_path / "trained"), session)
    exported = sorted(
        p.relative_to(tmp_path / "trained").as_posix() for p in (tmp_path / "trained").rglob("*")
    )
    assert exported == [
        "assets", "assets/vocab.txt", "saved_model.pb", "tfhub_module.pb", "variables",
        "variables/variables.data-00000-of-00001", "variables/variables.index",
    ]  # fmt: skip
    spec = hub.load_module_spec(str(tmp_path / "trained"))
    assert spec.get_tags() == [frozenset(), frozenset({"train"})]
    with tf.Graph().as_default():
        reloaded = hub.Module(spec)
        output = reloaded(X)
        with _session() as session:
            values = session.run(reloaded.variable_map)
            result = session.run(output)
    for key, value in trained.items():
        np.testing.assert_allclose(values[key], value, rtol=1e-6)
    hidden = np.maximum(X @ trained["dense/kernel"] + trained["dense/bias"], 0)
    np.testing.assert_allclose(result, hidden - trained["bn/moving_mean"], rtol=1e-5)


def test_export_refuses_a_non_empty_directory(hub_module: Path, graph: tf.Graph) -> None:
    module = hub.Module(str(hub_module))
    with _session() as session, pytest.raises(ExportError, match="exists and is not empty"):
        module.export(str(hub_module), session)


def test_module_refuses_eager_mode_and_other_graphs(hub_module: Path) -> None:
    with pytest.raises(GraphModeError, match=r"tfhub\.load\(handle\) or tfhub\.KerasLayer"):
        hub.Module(str(hub_module))
    with tf.Graph().as_default():
        module = hub.Module(str(hub_module))
    with tf.Graph().as_default(), pytest.raises(GraphModeError, match="another graph"):
        module(X)


def test_tags_may_be_one_string(hub_module: Path, graph: tf.Graph) -> None:
    module = hub.Module(str(hub_module), trainable=True, tags="train")
    module(X)
    assert len(v1.get_collection(KEYS.UPDATE_OPS)) == 1


def test_export_needs_the_module_graph_session(hub_module: Path, tmp_path: Path) -> None:
    with tf.Graph().as_default():
        module = hub.Module(str(hub_module))
        session = v1.Session(graph=tf.Graph())  # not entered: the module graph stays default
        with pytest.raises(GraphModeError, match="session runs another graph"):
            module.export(str(tmp_path / "m"), session)
        session.close()
    assert not (tmp_path / "m").exists()


def test_lookup_and_call_errors(hub_module: Path, graph: tf.Graph) -> None:
    available = r"Available: \{\} \(inference\), \{train\}\."
    with pytest.raises(
        ModuleLookupError, match=r"No graph variant with tags \{serve\} in .*" + available
    ):
        hub.Module(str(hub_module), tags={"serve"})
    module = hub.Module(str(hub_module))
    with pytest.raises(ModuleLookupError, match=r"No signature 'encode'.*default, words"):
        module(X, signature="encode")
    with pytest.raises(ModuleCallError, match=r"missing \['x'\], extra \['y'\]"):
        module({"y": X})
    with pytest.raises(ModuleCallError, match="Can't convert input 'x'"):
        module(tf.constant([[1, 2, 3]], tf.int32))
    with pytest.raises(ModuleCallError, match="got Tensor, expected SparseTensor"):
        module(tf.constant(["a"]), signature="words")
    with pytest.raises(TypeError, match="got TensorSpec"):
        module(np.zeros([2, 4], np.float32))


def test_eval_function_from_eager_tf2(hub_module: Path) -> None:
    assert tf.executing_eagerly()
    with hub.eval_function_for_module(str(hub_module)) as f:
        np.testing.assert_allclose(f(X), dense_reference(X), rtol=1e-6)
        outputs = f({"words": sparse_words(WORDS)}, signature="words", as_dict=True)
    np.testing.assert_allclose(outputs["default"], words_reference(WORDS))
    assert tf.executing_eagerly()


def test_a_module_the_original_wrote_runs_and_trains(
    original_module: Path, graph: tf.Graph
) -> None:
    module = hub.Module(str(original_module), trainable=True, tags={"train"})
    inference = hub.Module(str(original_module))
    outputs = {"dense": inference(X), "words": inference(sparse_words(WORDS), signature="words")}
    train, _ = _train(module, 1)
    with _session() as session:
        values = session.run(outputs)
        session.run(train)
        after = session.run(module.variable_map)
    np.testing.assert_allclose(values["dense"], dense_reference(X), rtol=1e-6)
    np.testing.assert_allclose(values["words"], words_reference(WORDS))
    assert not np.allclose(after["dense/kernel"], KERNEL)
    assert np.all(after["bn/moving_mean"] > 0)
    assert module.get_attached_message(MESSAGE_KEY, tf.compat.v1.HistogramProto) == message()


def test_a_module_without_its_checkpoint_is_refused(
    hub_module: Path, tmp_path: Path, graph: tf.Graph
) -> None:
    """Without ``variables/``, a Module used to start silently from the initializers (the
    fixture's are the saved values, a real module's are random); every way in now says
    what is missing."""
    import tfhub

    copy = Path(shutil.copytree(hub_module, tmp_path / "novars"))
    shutil.rmtree(copy / "variables")
    damaged = f"{copy} is damaged: saved_model.pb declares 4 variables but there is no checkpoint"
    for load in (
        lambda: hub.load_module_spec(str(copy)),
        lambda: hub.Module(str(copy)),
        lambda: tfhub.load(str(copy)),
    ):
        with pytest.raises(ModelFormatError) as info:
            load()
        assert str(info.value).startswith(damaged)
        assert "the variables/ directory is missing" in str(info.value)
    (copy / "variables").mkdir()  # an empty directory is no better
    with pytest.raises(ModelFormatError, match=r"variables/variables\.index, "):
        hub.Module(str(copy))
