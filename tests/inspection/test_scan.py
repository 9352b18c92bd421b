"""The risky-op scan on real models: normal ones (TF2, TF1 Hub module, TF1 SavedModel, assets,
tensorflow_text ops) have no high or medium finding; planted file, Python and checkpoint ops
are found wherever they hide, with their location; the scan never imports TensorFlow."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tensorflow as tf

from support import risky_models as rm
from support.models import save_reusable_model
from tf1.hub_fixture import export_fixture
from tfhub.errors import ModelFormatError, ModelNotFoundError
from tfhub.inspection.graph_walk import MAX_EMBEDDED_DEPTH, read_graphs
from tfhub.inspection.ops import is_core_op, package_for_op
from tfhub.inspection.scan import Finding, OpLibrary, ScanResult, scan_model, scan_saved_model


@dataclass(frozen=True)
class Models:
    clean: Path
    hub_module: Path
    tf1_saved_model: Path
    vocab_table: Path
    text: Path
    write_file: Path
    read_file: Path
    embedded: Path
    py_function: Path
    raw_save: Path
    target: Path  # where the WriteFile model writes
    stolen: Path  # where the raw SaveV2 writes
    secret: str  # the file the raw-save and embedded models read


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    root = tmp_path_factory.mktemp("risky")
    secret = str(root / "secret.txt")
    return Models(
        clean=save_reusable_model(root / "clean"),
        hub_module=export_fixture(root / "hub_module", root),
        tf1_saved_model=rm.save_tf1_saved_model(root / "tf1_saved_model", root),
        vocab_table=rm.save_vocab_table_model(root / "vocab_table", root),
        text=rm.save_text_model(root / "text"),
        write_file=rm.save_write_file_model(root / "write_file", root / "planted.txt"),
        read_file=rm.save_read_file_model(root / "read_file"),
        embedded=rm.save_embedded_graph_model(root / "embedded", secret),
        py_function=rm.save_py_function_model(root / "py_function"),
        raw_save=rm.save_raw_save_model(root / "raw_save", root / "stolen", secret),
        target=root / "planted.txt",
        stolen=root / "stolen",
        secret=secret,
    )


def _ops(path: Path) -> dict[str, int]:
    """How many nodes of each op the model has, everywhere (to show what the scan saw)."""
    counts: dict[str, int] = {}
    for meta_graph in read_graphs((path / "saved_model.pb").read_bytes()).meta_graphs:
        for graph in meta_graph.graphs.graphs():
            for node in graph.nodes:
                counts[node.op] = counts.get(node.op, 0) + 1
    return counts


def _reference_ops(path: Path) -> dict[str, int]:
    """The same count, read with TensorFlow's own protocol buffer classes."""
    data = (path / "saved_model.pb").read_bytes()
    counts: dict[str, int] = {}
    for meta_graph in _meta_graph_blobs(data):
        graph = tf.compat.v1.MetaGraphDef.FromString(meta_graph).graph_def
        for node in [*graph.node, *(n for f in graph.library.function for n in f.node_def)]:
            counts[node.op] = counts.get(node.op, 0) + 1
    return counts


# -- normal models: nothing to report ------------------------------------------------------


@pytest.mark.parametrize("name", ["clean", "hub_module", "tf1_saved_model", "vocab_table"])
def test_normal_models_have_no_findings(models: Models, name: str) -> None:
    path = getattr(models, name)
    result = scan_model(path)
    assert result.findings == ()
    assert result.op_libraries == ()
    ops = _reference_ops(path)
    assert result.nodes_scanned == sum(ops.values()) > 0


def test_the_checkpoint_machinery_is_there_but_not_reported(models: Models) -> None:
    tf2, tf1 = _ops(models.clean), _ops(models.tf1_saved_model)
    assert tf2["SaveV2"] == tf2["RestoreV2"] == tf2["MergeV2Checkpoints"] == 1
    assert tf1["SaveV2"] == tf1["RestoreV2"] == 1
    assert _ops(models.hub_module)["InitializeTableFromTextFileV2"] == 2  # one per variant
    assert _ops(models.vocab_table)["InitializeTableFromTextFileV2"] == 1
    assert _ops(models.tf1_saved_model)["InitializeTableFromTextFileV2"] == 1
    assert scan_model(models.clean).functions_scanned == len(
        tf.compat.v1.MetaGraphDef.FromString(
            _meta_graph_blobs((models.clean / "saved_model.pb").read_bytes())[0]
        ).graph_def.library.function
    )


def test_tensorflow_text_ops_name_their_package(models: Models) -> None:
    result = scan_model(models.text)
    assert result.findings == ()
    [library] = result.op_libraries
    assert library.package == "tensorflow-text"
    assert library.ops and list(library.ops) == sorted(library.ops)
    assert set(library.ops) == {op for op in _reference_ops(models.text) if not is_core_op(op)}
    assert {package_for_op(op) for op in library.ops} == {"tensorflow-text"}


# -- planted operations ------------------------------------------------------------------------


def test_write_file_in_a_cond_branch_is_high(models: Models) -> None:
    result = scan_model(models.write_file)
    [finding] = result.findings
    assert (finding.op, finding.severity) == ("WriteFile", "high")
    assert re.fullmatch(
        r"meta_graph\[serve\]/function '__inference___call___\d+'/node 'cond'/"
        r"attr 'then_branch'/function 'cond_true_\d+'/node 'cond/WriteFile'",
        finding.location,
    ), finding.location
    assert repr(str(models.target)) in finding.reason
    assert result.high() == (finding,)


def test_read_file_in_a_dataset_map_function_is_medium(models: Models) -> None:
    [finding] = scan_model(models.read_file).findings
    assert (finding.op, finding.severity) == ("ReadFile", "medium")
    assert re.fullmatch(
        r"meta_graph\[serve\]/function '__inference___call___\d+'/node 'MapDataset'/"
        r"attr 'f'/function '__inference_Dataset_map_read_file_\d+'/node 'ReadFile'",
        finding.location,
    ), finding.location
    assert "function's inputs" in finding.reason


def test_read_file_in_a_graph_serialized_in_a_constant_is_found(models: Models) -> None:
    result = scan_model(models.embedded)
    assert _ops(models.embedded).get("ReadFile", 0) == 1  # only inside the nested GraphDef
    assert "ReadFile" not in _reference_ops(models.embedded)  # TF's own view misses it
    [finding] = result.findings
    assert (finding.op, finding.severity) == ("ReadFile", "medium")
    assert "/node 'Const'/attr 'value'/graph_def/function '__inference_Dataset_map_" in (
        finding.location
    )


def test_python_function_is_high(models: Models) -> None:
    [finding] = scan_model(models.py_function).findings
    assert (finding.op, finding.severity) == ("EagerPyFunc", "high")
    assert "Python" in finding.reason


def test_save_outside_the_checkpoint_machinery_is_high(models: Models) -> None:
    assert _ops(models.raw_save)["SaveV2"] == 2  # the planted one and the saver's own
    result = scan_model(models.raw_save)
    assert [(f.severity, f.op) for f in result.findings] == [
        ("high", "SaveV2"),
        ("medium", "ReadFile"),
    ]
    save, read = result.findings
    assert repr(str(models.stolen)) in save.reason
    assert repr(models.secret) in read.reason
    assert "__traced_save" not in save.location


# -- crafted graphs: shared saver functions, cycles, nesting, hostile names ------------------


def _saved_model(*meta_graphs: bytes) -> bytes:
    """A serialized SavedModel (schema version 1) holding these MetaGraphDefs."""
    out = b"\x08\x01"
    for blob in meta_graphs:
        out += b"\x12" + _varint(len(blob)) + blob
    return out


def _graph_model(graph: Any) -> bytes:
    """A serialized SavedModel whose one MetaGraph (no tags) holds ``graph``."""
    return _saved_model(tf.compat.v1.MetaGraphDef(graph_def=graph).SerializeToString())


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _meta_graph_blobs(data: bytes) -> list[bytes]:
    from tfhub.core.hub_module import meta_graph_blobs

    return [bytes(b) for b in meta_graph_blobs(data)]


def _node(graph_nodes: Any, name: str, op: str, **attrs: Any) -> Any:
    node = graph_nodes.add()
    node.name, node.op = name, op
    for key, value in attrs.items():
        if isinstance(value, str):
            node.attr[key].func.name = value
        else:
            node.attr[key].CopyFrom(value)
    return node


def test_a_saver_function_also_called_for_serving_is_reported(models: Models) -> None:
    meta = tf.compat.v1.MetaGraphDef.FromString(
        _meta_graph_blobs((models.clean / "saved_model.pb").read_bytes())[0]
    )
    names = [f.signature.name for f in meta.graph_def.library.function]
    save = next(n for n in names if n.startswith("__inference__traced_save_"))
    embed = next(f for f in meta.graph_def.library.function if "_embed_" in f.signature.name)
    assert scan_saved_model(_saved_model(meta.SerializeToString())).findings == ()
    _node(embed.node_def, "sneaky", "StatefulPartitionedCall", f=save)
    result = scan_saved_model(_saved_model(meta.SerializeToString()))
    assert sorted(f.op for f in result.findings) == ["MergeV2Checkpoints", "SaveV2"]
    assert all(f.severity == "high" and save in f.location for f in result.findings)


def test_call_cycles_end_and_every_function_is_walked() -> None:
    graph = tf.compat.v1.GraphDef()
    f, g = graph.library.function.add(), graph.library.function.add()
    f.signature.name, g.signature.name = "f", "g"
    g.signature.input_arg.add().name = "path"
    _node(f.node_def, "call_g", "PartitionedCall", f="g")
    read = _node(g.node_def, "read", "ReadFile")
    read.input.append("path")
    _node(g.node_def, "call_f", "PartitionedCall", f="f")
    _node(graph.node, "start", "StatefulPartitionedCall", f="f")
    meta = tf.compat.v1.MetaGraphDef(graph_def=graph)
    meta.meta_info_def.tags.append("serve")
    result = scan_saved_model(_saved_model(meta.SerializeToString()))
    assert result.functions_scanned == 2 and result.nodes_scanned == 4
    assert result.findings == (
        Finding(
            "ReadFile", "medium",
            "meta_graph[serve]/function 'f'/node 'call_g'/attr 'f'/function 'g'/node 'read'",
            "reads a file (a path from the function's inputs)",
        ),
    )  # fmt: skip


def _asset_reader(asset: bool) -> bytes:
    """The main graph passes a path constant (an asset of the model, or not) through a call
    and an ``If`` branch to a ``ReadFile``."""
    graph = tf.compat.v1.GraphDef()
    path = tf.compat.v1.AttrValue()
    path.tensor.CopyFrom(tf.make_tensor_proto(b"vocab.txt"))
    _node(graph.node, "vocab", "Const", value=path)
    _node(graph.node, "call", "StatefulPartitionedCall", f="outer").input.append("vocab")
    outer, inner = graph.library.function.add(), graph.library.function.add()
    outer.signature.name, inner.signature.name = "outer", "inner"
    outer.signature.input_arg.add().name = "path"
    inner.signature.input_arg.add().name = "p"
    _node(outer.node_def, "flag", "Const")
    branch = _node(outer.node_def, "branch", "If", then_branch="inner", else_branch="inner")
    branch.input.extend(["flag:output:0", "path"])
    _node(inner.node_def, "read", "ReadFile").input.append("p")
    meta = tf.compat.v1.MetaGraphDef(graph_def=graph)
    if asset:
        meta.asset_file_def.add(filename="vocab.txt").tensor_info.name = "vocab:0"
    return _saved_model(meta.SerializeToString())


def test_asset_paths_are_followed_through_calls() -> None:
    assert scan_saved_model(_asset_reader(asset=True)).findings == ()
    [finding] = scan_saved_model(_asset_reader(asset=False)).findings
    assert finding.op == "ReadFile"
    assert re.fullmatch(
        r"meta_graph\[\]/function 'outer'/node 'branch'/attr '(then|else)_branch'/"
        r"function 'inner'/node 'read'",
        finding.location,
    )


def _const_holding(graph: Any) -> Any:
    value = tf.compat.v1.AttrValue()
    value.tensor.CopyFrom(tf.make_tensor_proto(graph.SerializeToString()))
    return value


def test_nested_graph_defs_are_walked_to_a_bounded_depth() -> None:
    inner = tf.compat.v1.GraphDef()
    _node(inner.node, "deepest_read", "ReadFile")
    for level in range(MAX_EMBEDDED_DEPTH + 1, 0, -1):
        outer = tf.compat.v1.GraphDef()
        _node(outer.node, f"read_{level}", "ReadFile")
        _node(outer.node, f"graph_{level}", "Const", value=_const_holding(inner))
        inner = outer
    result = scan_saved_model(_graph_model(inner))
    reads = [f for f in result.findings if f.op == "ReadFile"]
    depths = sorted(f.location.count("/graph_def/") for f in reads)
    assert depths == list(range(MAX_EMBEDDED_DEPTH + 1))  # the graph and 3 nested levels
    [stopped] = result.high()  # the 4th nested level is not walked, and says so
    assert stopped.op == "Const" and "not scanned" in stopped.reason
    assert stopped.location.endswith(
        f"/node 'graph_{MAX_EMBEDDED_DEPTH + 1}'/attr 'value'/graph_def"
    )


def test_ordinary_strings_are_not_taken_for_graphs() -> None:
    graph = tf.compat.v1.GraphDef()
    not_a_graph = tf.compat.v1.AttrValue()
    not_a_graph.tensor.CopyFrom(tf.make_tensor_proto([b"\n\x05hello world", b"\x12" * 40]))
    _node(graph.node, "strings", "Const", value=not_a_graph)
    model = read_graphs(
        _saved_model(tf.compat.v1.MetaGraphDef(graph_def=graph).SerializeToString())
    )
    assert model.meta_graphs[0].graphs.embedded == [] and model.nodes_scanned == 1


def test_hostile_names_cannot_forge_lines() -> None:
    graph = tf.compat.v1.GraphDef()
    _node(graph.node, "x\nHIGH fake", "WriteFile")
    result = scan_saved_model(
        _saved_model(tf.compat.v1.MetaGraphDef(graph_def=graph).SerializeToString())
    )
    [finding] = result.findings
    assert "\n" not in finding.location and "node 'x\\nHIGH fake'" in finding.location


# -- results and errors ------------------------------------------------------------------------


def test_result_round_trips_through_json(models: Models) -> None:
    result = scan_model(models.raw_save)
    text = json.dumps(result.to_dict())
    assert ScanResult.from_dict(json.loads(text)) == result
    library = OpLibrary("tensorflow-text", ("CaseFoldUTF8",))
    with_library = ScanResult((), (library, OpLibrary(None, ("Mine",))), 1, 0)
    assert ScanResult.from_dict(json.loads(json.dumps(with_library.to_dict()))) == with_library
    for bad in ({}, {"findings": [{"op": 1}]}, {**result.to_dict(), "nodes_scanned": "3"}):
        with pytest.raises(ModelFormatError, match="Not a scan result"):
            ScanResult.from_dict(bad)


def test_missing_and_damaged_models_are_clear_errors(tmp_path: Path, models: Models) -> None:
    with pytest.raises(ModelNotFoundError, match="not a directory"):
        scan_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match=r"saved_model\.pb"):
        scan_model(tmp_path / "empty")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    data = (models.clean / "saved_model.pb").read_bytes()
    (damaged / "saved_model.pb").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="is damaged"):
        scan_model(damaged)


def test_scanning_never_imports_tensorflow(
    models: Models, tf_free: Callable[[str], tuple[str, set[str]]]
) -> None:
    code = (
        "import tfhub.inspection.scan as s\n"
        f"r = s.scan_model({str(models.write_file)!r})\n"
        "print(r.findings[0].op)"
    )
    out, _ = tf_free(code)  # checks that no TensorFlow, Keras, tf_keras was imported
    assert out.split() == ["WriteFile"]
