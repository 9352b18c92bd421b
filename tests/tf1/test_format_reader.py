"""The TF-free reader of the TF1 Hub format (``tfhub.core.hub_module``) against modules
written by ``tfhub.tf1`` and decoded with TensorFlow's own protocol buffer classes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

import tfhub
from tf1.hub_fixture import MESSAGE_KEY, message
from tfhub.core.hub_module import (
    ASSETS_COLLECTION,
    AssetFile,
    TensorSpecInfo,
    asset_path,
    encode_module_def,
    parse_hub_module,
    read_hub_module,
)
from tfhub.errors import ModelFormatError, ModelNotFoundError, ModuleLookupError


def _saved_model(path: Path) -> saved_model_pb2.SavedModel:
    return saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())


def test_reader_matches_what_was_written(hub_module: Path) -> None:
    module = read_hub_module(hub_module)
    assert module.format_version == 3 and module.required_features == ()
    assert module.tags == [frozenset(), frozenset({"train"})]
    written = {frozenset(m.meta_info_def.tags): m for m in _saved_model(hub_module).meta_graphs}
    for variant in module.variants:
        meta_graph = written[variant.tags]
        assert set(variant.signatures) == set(meta_graph.signature_def) == {"default", "words"}
        for name, signature in variant.signatures.items():
            proto = meta_graph.signature_def[name]
            assert set(signature.inputs) == set(proto.inputs)
            assert set(signature.outputs) == set(proto.outputs)
        assert set(variant.collections) == set(meta_graph.collection_def)
        assert variant.attachments == {MESSAGE_KEY: message().SerializeToString()}
        assert [a.filename for a in variant.assets] == ["vocab.txt"]


def test_signatures_describe_dense_and_sparse_tensors(hub_module: Path) -> None:
    variant = read_hub_module(hub_module).variant(set())
    default, words = variant.signature(), variant.signature("words")
    assert default.inputs == {"x": TensorSpecInfo("dense", "float32", (None, 3), ("x:0",))}
    assert default.outputs["hidden"].kind == "dense"
    assert default.outputs["hidden"].shape == (None, 2)
    proto = meta_graph_pb2.TensorInfo()
    meta_graph = _saved_model(hub_module).meta_graphs[0]
    proto.CopyFrom(meta_graph.signature_def["words"].inputs["words"])
    coo = proto.coo_sparse
    assert words.inputs["words"] == TensorSpecInfo(
        "sparse", "string", (None, None),
        (coo.indices_tensor_name, coo.values_tensor_name, coo.dense_shape_tensor_name),
    )  # fmt: skip
    assert words.outputs["ids"].kind == "sparse" and words.outputs["ids"].dtype == "int64"


def test_ragged_signatures_are_described(tmp_path: Path) -> None:
    import tensorflow as tf

    import tfhub.tf1 as hub

    def module_fn() -> None:
        ragged = tf.compat.v1.ragged.placeholder(tf.int32, 2, [4], name="r")
        hub.add_signature(inputs={"r": ragged}, outputs={"flat": ragged.flat_values})

    spec = hub.create_module_spec(module_fn)
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf.compat.v1.Session() as session:
            module.export(str(tmp_path / "m"), session)
    info = read_hub_module(tmp_path / "m").variant().signature().inputs["r"]
    assert (info.kind, info.dtype, info.ragged_rank, info.row_splits_dtype) == (
        "ragged", "int32", 2, "int64",
    )  # fmt: skip
    assert info.shape == (None, None, None, 4)
    assert info.components == ("r/flat_values:0", "r/row_splits_0:0", "r/row_splits_1:0")


def test_reading_never_imports_tensorflow(hub_module: Path) -> None:
    code = (
        "import json, sys\n"
        "from tfhub.core.hub_module import read_hub_module\n"
        f"m = read_hub_module({str(hub_module)!r})\n"
        "print(json.dumps([sorted(m.variant(t).signatures) for t in m.tags]))\n"
        "assert not [n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')]\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(proc.stdout) == [["default", "words"], ["default", "words"]]


def _copy_with_module_def(hub_module: Path, tmp_path: Path, module_def: bytes) -> Path:
    copy = Path(shutil.copytree(hub_module, tmp_path / "copy"))
    (copy / "tfhub_module.pb").write_bytes(module_def)
    return copy


def test_unknown_format_version_is_refused(hub_module: Path, tmp_path: Path) -> None:
    copy = _copy_with_module_def(hub_module, tmp_path, b"\x08\x04")  # format = 4
    with pytest.raises(ModelFormatError, match="format version 4; tfhub reads version 3"):
        read_hub_module(copy)


def test_unknown_required_features_are_refused(hub_module: Path, tmp_path: Path) -> None:
    copy = _copy_with_module_def(hub_module, tmp_path, encode_module_def(["b_feat", "a_feat"]))
    with pytest.raises(ModelFormatError, match="does not support: a_feat, b_feat"):
        read_hub_module(copy)
    import tfhub.tf1 as hub

    with pytest.raises(ModelFormatError, match="a_feat"):
        hub.load_module_spec(str(copy))


def test_missing_damaged_and_foreign_directories(hub_module: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        read_hub_module(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match=r"no tfhub_module\.pb"):
        read_hub_module(tmp_path / "empty")
    copy = Path(shutil.copytree(hub_module, tmp_path / "damaged"))
    data = (copy / "saved_model.pb").read_bytes()
    (copy / "saved_model.pb").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="is damaged"):
        read_hub_module(copy)


def test_a_damaged_file_is_named(hub_module: Path, tmp_path: Path) -> None:
    """Which of the module's two protocol-buffer files is damaged: the message names it."""
    copy = _copy_with_module_def(hub_module, tmp_path, b"\x0a\xff\xff\x01garbage")
    module_def = copy / "tfhub_module.pb"
    with pytest.raises(
        ModelFormatError, match=f"^{re.escape(str(module_def))} is damaged: Truncated"
    ):
        read_hub_module(copy)
    with pytest.raises(ModelFormatError, match=f"^{re.escape(str(module_def))} is damaged"):
        tfhub.inspect(copy)
    module_def.write_bytes(b"\x08\x04")
    with pytest.raises(
        ModelFormatError, match=f"^{re.escape(str(module_def))} has TF1 Hub format version 4"
    ):
        read_hub_module(copy)
    module_def.write_bytes(encode_module_def())
    saved_model = copy / "saved_model.pb"
    saved_model.write_bytes(saved_model.read_bytes()[:100])
    with pytest.raises(ModelFormatError, match=f"^{re.escape(str(saved_model))} is damaged"):
        read_hub_module(copy)


def test_repeated_tag_sets_are_refused(hub_module: Path) -> None:
    data = (hub_module / "saved_model.pb").read_bytes()
    with pytest.raises(ModelFormatError, match="two graph variants with tags"):
        parse_hub_module(encode_module_def(), data + data)


def test_unknown_variant_and_signature_list_what_exists(hub_module: Path) -> None:
    module = read_hub_module(hub_module)
    with pytest.raises(
        ModuleLookupError, match=r"tags \{serve\} in .*Available: \{\} \(inference\), \{train\}\."
    ):
        module.variant({"serve"})
    with pytest.raises(KeyError, match=r"No signature 'encode'.*Available: default, words"):
        module.variant().signature("encode")


@pytest.mark.parametrize(
    "name", ["../variables/variables.index", "/etc/passwd", "a/../../x", "", "a//b", "C:x"]
)
def test_asset_names_cannot_leave_assets(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelFormatError, match="points outside its assets/"):
        asset_path(str(tmp_path), name)


def test_asset_links_cannot_leave_assets(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "secret").write_text("x")
    os.symlink(tmp_path / "secret", tmp_path / "assets" / "vocab.txt")
    with pytest.raises(ModelFormatError, match="outside"):
        asset_path(str(tmp_path), "vocab.txt")
    assert asset_path(str(tmp_path), "sub/v.txt") == str(tmp_path / "assets" / "sub" / "v.txt")


def test_a_hostile_asset_name_stops_instantiation(hub_module: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    import tfhub.tf1 as hub

    copy = Path(shutil.copytree(hub_module, tmp_path / "hostile"))
    saved_model = _saved_model(copy)
    for meta_graph in saved_model.meta_graphs:
        packed = meta_graph.collection_def[ASSETS_COLLECTION].any_list.value[0]
        entry = meta_graph_pb2.AssetFileDef.FromString(packed.value)
        entry.filename = "../variables/variables.index"
        packed.Pack(entry)
    (copy / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    assert read_hub_module(copy).variant().assets[0] == AssetFile(
        "asset_path:0", "../variables/variables.index"
    )
    spec = hub.load_module_spec(str(copy))
    with tf.Graph().as_default(), pytest.raises(ModelFormatError, match="outside its assets/"):
        hub.Module(spec)


def test_what_fine_tuning_needs_is_listed_per_variant(hub_module: Path) -> None:
    module = read_hub_module(hub_module)
    inference, train = module.variant(), module.variant({"train"})
    for variant in (inference, train):
        assert sorted(variant.variables) == [
            "bn/moving_mean", "dense/bias", "dense/kernel", "embeddings",
        ]  # fmt: skip
        assert sorted(variant.trainable_variables) == ["dense/bias", "dense/kernel", "embeddings"]
        assert sorted(variant.regularization_losses) == [
            "dense/kernel/Regularizer/mul:0", "embeddings/Regularizer/mul:0",
        ]  # fmt: skip
    assert inference.update_ops == ()
    assert len(train.update_ops) == 1
    meta_graph = _saved_model(hub_module).meta_graphs[1]
    assert set(meta_graph.meta_info_def.tags) == {"train"}
    assert list(meta_graph.collection_def["update_ops"].node_list.value) == list(train.update_ops)


def test_reads_a_module_the_original_wrote(original_module: Path, hub_module: Path) -> None:
    original, ours = read_hub_module(original_module), read_hub_module(hub_module)
    assert original.tags == ours.tags
    for variant in original.variants:
        mine = ours.variant(variant.tags)
        assert variant.signatures == mine.signatures
        assert variant.attachments == mine.attachments
        assert variant.assets == mine.assets
        assert sorted(variant.trainable_variables) == sorted(mine.trainable_variables)
        assert sorted(variant.collections) == sorted(mine.collections)
