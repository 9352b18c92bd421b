"""Creating TF1 Hub modules from eager TF2: ``create_module_spec``, ``add_signature`` (dense,
sparse, ragged), ``attach_message``, ``ModuleSpec.export(checkpoint_path=...)``, the image
helpers, and the errors of module definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfhub.tf1 as hub
from tf1.hub_fixture import KERNEL, MESSAGE_KEY, X, create_spec, message
from tfhub.core.hub_module import read_hub_module
from tfhub.errors import ModelFormatError, ModuleCallError, ModuleDefinitionError

v1 = tf.compat.v1


def test_created_spec_matches_its_export(tmp_path: Path, hub_module: Path) -> None:
    assert tf.executing_eagerly()
    spec = create_spec(tmp_path)
    assert tf.executing_eagerly()
    assert spec.get_tags() == [frozenset(), frozenset({"train"})]
    assert spec.get_attached_message(MESSAGE_KEY, v1.HistogramProto, tags={"train"}) == message()
    exported = read_hub_module(hub_module)
    for variant in spec.info.variants:  # the same, but for the assets (bound on export)
        written = exported.variant(variant.tags)
        assert variant.signatures == written.signatures
        assert variant.attachments == written.attachments


def _linear_fn(scale: float = 1.0) -> None:
    x = v1.placeholder(tf.float32, [None, 3], name="x")
    kernel = v1.get_variable("kernel", initializer=np.zeros([3, 2], np.float32))
    hub.add_signature(inputs=x, outputs=scale * tf.matmul(x, kernel))


def _tf1_checkpoint(path: Path, name: str, value: np.ndarray) -> str:
    with tf.Graph().as_default():
        variable = v1.get_variable(name, initializer=value)
        saver = v1.train.Saver([variable])
        with v1.Session() as session:
            session.run(variable.initializer)
            return str(saver.save(session, str(path / "ckpt")))


def test_spec_export_takes_weights_from_a_checkpoint(tmp_path: Path) -> None:
    checkpoint = _tf1_checkpoint(tmp_path, "net/kernel", KERNEL[:, :2])
    spec = hub.create_module_spec(_linear_fn)
    with pytest.raises(ValueError, match="needs checkpoint_path"):
        spec.export(str(tmp_path / "m"))
    spec.export(
        str(tmp_path / "m"), checkpoint_path=checkpoint, name_transform_fn=lambda n: "net/" + n
    )
    assert tf.executing_eagerly()
    with hub.eval_function_for_module(str(tmp_path / "m")) as f:
        np.testing.assert_allclose(f(X), X @ KERNEL, rtol=1e-6)


def test_ragged_inputs_and_outputs(tmp_path: Path) -> None:
    def module_fn() -> None:
        ragged = v1.ragged.placeholder(tf.float32, 1, [], name="r")
        hub.add_signature(
            inputs=ragged, outputs={"default": ragged * 2.0, "sum": tf.reduce_sum(ragged, 1)}
        )

    spec = hub.create_module_spec(module_fn)
    info = spec.get_input_info_dict()["default"]
    assert info.is_composite and not info.is_sparse
    assert info.type_spec == tf.RaggedTensorSpec([None, None], tf.float32, 1, tf.int64)
    with tf.Graph().as_default():
        module = hub.Module(spec)
        outputs = module(tf.ragged.constant([[1.0, 2.0], [3.0]]), as_dict=True)
        listed = module([[4.0], [5.0, 6.0]], as_dict=True)
        assert isinstance(outputs["default"], tf.RaggedTensor)
        with v1.Session() as session:
            values, from_list = session.run([outputs, listed])
    assert values["default"].to_list() == [[2.0, 4.0], [6.0]]
    assert values["sum"].tolist() == [3.0, 3.0]
    assert from_list["sum"].tolist() == [4.0, 11.0]


def test_definition_errors(tmp_path: Path) -> None:
    with pytest.raises(ModuleDefinitionError, match="no signature"):
        hub.create_module_spec(lambda: v1.placeholder(tf.float32))
    with pytest.raises(ModuleDefinitionError, match=r"tags \{train\} used twice"):
        hub.create_module_spec(_linear_fn, [({"train"}, {}), (["train"], {"scale": 2.0})])

    def noisy_fn() -> None:
        _linear_fn()
        v1.add_to_collection("my_collection", tf.constant(1.0))

    with pytest.raises(ModuleDefinitionError, match=r"my_collection.*drop_collections"):
        hub.create_module_spec(noisy_fn)
    spec = hub.create_module_spec(noisy_fn, drop_collections=["my_collection"])
    assert "my_collection" not in spec.variant().collections

    def bad_key_fn() -> None:
        _linear_fn()
        hub.attach_message("1st", message())

    with pytest.raises(ModuleDefinitionError, match="malformed key '1st'"):
        hub.create_module_spec(bad_key_fn)

    def variable_output_fn() -> None:
        hub.add_signature(outputs=v1.get_variable("v", initializer=1.0))

    with pytest.raises(ModuleDefinitionError, match=r"expected a tf.Tensor.*variable.value\(\)"):
        hub.create_module_spec(variable_output_fn)


def test_no_default_output_needs_as_dict() -> None:
    def module_fn() -> None:
        x = v1.placeholder(tf.float32, [None])
        hub.add_signature("halve", inputs={"x": x}, outputs={"half": x / 2})

    spec = hub.create_module_spec(module_fn)
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with pytest.raises(ModuleCallError, match=r"no output named 'default'.*as_dict=True"):
            module([1.0], signature="halve")
        assert set(module([1.0], signature="halve", as_dict=True)) == {"half"}


def _image_fn(shape: list[int | None], info: bool) -> None:
    images = v1.placeholder(tf.float32, shape)
    hub.add_signature(inputs={"images": images}, outputs=tf.reduce_sum(images, [1, 2, 3]))
    if info:
        image_info = hub.ImageModuleInfo()
        image_info.default_image_size.height, image_info.default_image_size.width = 2, 4
        hub.attach_image_module_info(image_info)


def test_image_helpers() -> None:
    sized = hub.create_module_spec(_image_fn, [(set(), {"shape": [None, 5, 7, 3], "info": False})])
    assert hub.get_expected_image_size(sized) == [5, 7]
    assert hub.get_num_image_channels(sized) == 3
    free = hub.create_module_spec(
        _image_fn, [(set(), {"shape": [None, None, None, 1], "info": True})]
    )
    assert hub.get_expected_image_size(free) == [2, 4]
    assert hub.get_num_image_channels(free) == 1
    with tf.Graph().as_default():
        assert hub.get_expected_image_size(hub.Module(free)) == [2, 4]
    bare = hub.create_module_spec(
        _image_fn, [(set(), {"shape": [None, None, None, 3], "info": False})]
    )
    with pytest.raises(ModelFormatError, match="height and width are unknown"):
        hub.get_expected_image_size(bare)
    with pytest.raises(KeyError, match="no input 'pixels'"):
        hub.get_expected_image_size(bare, input_name="pixels")


def test_update_ops_go_where_their_inputs_are() -> None:
    def module_fn() -> None:
        a, b = v1.placeholder(tf.float32, [], "a"), v1.placeholder(tf.float32, [], "b")
        total = v1.get_variable("total", initializer=0.0, trainable=False)
        calls = v1.get_variable("calls", initializer=0.0, trainable=False)
        for update in (total.assign_add(a), total.assign_add(a + b), calls.assign_add(1.0)):
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update.op)
        hub.add_signature("a", inputs={"a": a}, outputs={"default": a})
        hub.add_signature("ab", inputs={"a": a, "b": b}, outputs={"default": a + b})

    spec = hub.create_module_spec(module_fn)
    with tf.Graph().as_default():
        module = hub.Module(spec, trainable=True)
        module(1.0, signature="a")
        module({"a": 2.0, "b": 3.0}, signature="ab")
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        assert [op.name for op in updates] == [
            "module/AssignAddVariableOp_2",  # calls: depends on no input, imported once
            "module_apply_a/AssignAddVariableOp",  # a: the one that needs no b
            "module_apply_ab/AssignAddVariableOp",  # ab: both depend on a or b
            "module_apply_ab/AssignAddVariableOp_1",
        ]
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            session.run(updates)
            assert session.run(module.variable_map) == {"total": 1.0 + 2.0 + 5.0, "calls": 1.0}
