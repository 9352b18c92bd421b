"""The risky-op scan: which operations of a SavedModel reach files, Python, processes or the
network, and which op libraries beyond core TensorFlow it needs. ``saved_model.pb`` is read as
protocol-buffer data (:mod:`tfhub.inspection.graph_walk`): TensorFlow is never imported, and
every node is searched (main graphs, every function of the library, GraphDefs nested in
attributes).

Risk table (rules version :data:`RULES_VERSION`):

* **high**, writes or deletes files, runs Python, serves the network: ``WriteFile``;
  ``PyFunc``, ``PyFuncStateless``, ``EagerPyFunc``; ``SaveV2``, ``Save``, ``SaveSlices``,
  ``MergeV2Checkpoints`` (deletes its inputs) outside the checkpoint machinery;
  ``SaveDataset(V2)``, ``DatasetToTFRecord``, ``SnapshotDataset(V2)``, ``DistributedSave``,
  ``CacheDataset(V2)`` with a file name set in the graph; ``CreateSummaryFileWriter``,
  ``CreateSummaryDbWriter``, ``DumpTensor``, ``CalibrationStatisticsSaver``; ``PrintV2`` to a
  ``file://`` stream; ``Debug*`` ops with ``debug_urls`` (files or gRPC); ``RpcServer``; and a
  GraphDef nested deeper than tfhub reads (it could not be vetted).
* **medium**, reads files, contacts the network, restores state: ``ReadFile``,
  ``MatchingFiles(Dataset)``, ``InitializeTableFromTextFile(V2)``, file datasets
  (``TFRecordDataset``, ``TextLineDataset``, ``CSVDataset``, ``LoadDataset``, ...) and readers
  (``WholeFileReader``, ...), ``ImmutableConst``, ``RecordInput``, ``DecodeProtoV2`` /
  ``EncodeProto`` with a descriptor file; ``RestoreV2``, ``Restore``, ``RestoreSlice``,
  ``LoadAndRemapMatrix``, ``GenerateVocabRemapping`` outside the checkpoint machinery;
  ``RpcClient``, ``RpcCall``, ``DataServiceDataset*``, ``RegisterDataset*``, ``RemoteCall``;
  ``FileSystemSetConfiguration``; ``Abort``; ``CacheDataset(V2)`` with a computed file name.
* **low**: ``Print``/``PrintV2`` (to the log), summary writes through a writer resource,
  ``XlaCallModule``/``XlaCustomCall`` (an embedded program tfhub cannot read).

Normal models have no high or medium finding: save/restore ops are expected in the
*checkpoint machinery* (what ``saver_def`` reaches: TF1 ``save/...`` nodes, TF2
``__inference__traced_save_*`` / ``_restore_*`` functions, when nothing else calls them), and
file reads are expected on the model's own assets (``asset_file_def``, the
``saved_model_assets`` collection, object-graph captures of assets).

Example:
    >>> result = scan_model("/models/encoder")  # doctest: +SKIP
    >>> [(f.severity, f.op) for f in result.findings]  # doctest: +SKIP
    [('high', 'WriteFile')]
    >>> ScanResult.from_dict(ScanResult((), (), 3, 0).to_dict()).nodes_scanned
    3
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tfhub.core.formats import SAVED_MODEL_PB, read_model_file
from tfhub.errors import ModelFormatError, ModelNotFoundError
from tfhub.inspection.graph_walk import (
    Graph,
    GraphSet,
    MetaGraph,
    Node,
    read_graphs,
    tensor_name,
)
from tfhub.inspection.ops import op_libraries

__all__ = ["RULES_VERSION", "SEVERITIES", "Finding", "OpLibrary", "ScanResult", "scan_model"]

RULES_VERSION = 1
"""Bumped whenever the rules change, so cached scan results are recomputed."""
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Finding:
    """One risky node."""

    op: str  # op type, e.g. "WriteFile"
    severity: str  # "high" | "medium" | "low"
    location: str  # where (see tfhub.inspection.graph_walk)
    reason: str  # one line: why a reviewer cares


@dataclass(frozen=True)
class OpLibrary:
    """Ops of the model that core TensorFlow lacks, and the package that provides them."""

    package: str | None  # PyPI package, None when unknown
    ops: tuple[str, ...]  # sorted op names


@dataclass(frozen=True)
class ScanResult:
    """What :func:`scan_model` found."""

    findings: tuple[Finding, ...]  # sorted: severity (high first), then location
    op_libraries: tuple[OpLibrary, ...]
    nodes_scanned: int
    functions_scanned: int

    def high(self) -> tuple[Finding, ...]:
        """The high-severity findings."""
        return tuple(f for f in self.findings if f.severity == "high")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (:meth:`from_dict` reads it back)."""
        return {
            "findings": [
                {"op": f.op, "severity": f.severity, "location": f.location, "reason": f.reason}
                for f in self.findings
            ],
            "op_libraries": [{"package": x.package, "ops": list(x.ops)} for x in self.op_libraries],
            "nodes_scanned": self.nodes_scanned,
            "functions_scanned": self.functions_scanned,
        }

    @classmethod
    def from_dict(cls, d: Any) -> ScanResult:
        """The result :meth:`to_dict` wrote.

        Raises:
            ModelFormatError: ``d`` is not such a dict.
        """
        try:
            findings = tuple(
                Finding(*(_str(f[k]) for k in ("op", "severity", "location", "reason")))
                for f in d["findings"]
            )
            libraries = tuple(
                OpLibrary(None if x["package"] is None else _str(x["package"]),
                          tuple(_str(op) for op in x["ops"]))
                for x in d["op_libraries"]
            )  # fmt: skip
            counts = (d["nodes_scanned"], d["functions_scanned"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFormatError(f"Not a scan result ({type(e).__name__}: {e}).") from e
        if not all(type(c) is int for c in counts) or any(
            f.severity not in SEVERITIES for f in findings
        ):
            raise ModelFormatError("Not a scan result (bad counts or severities).")
        return cls(findings, libraries, counts[0], counts[1])


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def scan_model(path: str | os.PathLike[str]) -> ScanResult:
    """Scans the SavedModel (TF2, TF1 or TF1 Hub module) in the local directory ``path``.

    Raises:
        ModelNotFoundError: ``path`` is not a directory.
        ModelFormatError: it has no readable ``saved_model.pb``, or that file is damaged.
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ModelNotFoundError(f"No model at {root}: not a directory.")
    pb = os.path.join(root, SAVED_MODEL_PB)
    return scan_saved_model(read_model_file(pb), pb)


def scan_saved_model(data: bytes | memoryview, label: str = "saved_model.pb") -> ScanResult:
    """Scans a serialized ``SavedModel`` (the bytes of ``saved_model.pb``).

    Raises:
        ModelFormatError: the bytes are damaged.
    """
    try:
        model = read_graphs(data)
    except ModelFormatError as e:
        raise ModelFormatError(f"{label} is damaged: {e}") from e
    findings: list[Finding] = []
    ops: set[str] = set()
    for meta_graph in model.meta_graphs:
        context = _Context(meta_graph)
        for graph in meta_graph.graphs.graphs():
            functions = graph.owner.functions
            for node in graph.nodes:
                if node.op not in functions:
                    ops.add(node.op)
                finding = _judge(node, graph, context)
                if finding is not None:
                    findings.append(finding)
    for where, op, what in model.stopped:
        findings.append(Finding(op, "high", where, f"not scanned: {what} (limit reached)"))
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), f.location, f.op))
    return ScanResult(
        tuple(findings),
        tuple(OpLibrary(package, names) for package, names in op_libraries(ops)),
        model.nodes_scanned,
        model.functions_scanned,
    )


# -- the rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    severity: str
    reason: str
    path: int | None = None  # the input that names the file or address
    reads: bool = False  # reading one of the model's own assets is normal
    checkpoint: bool = False  # normal inside the checkpoint machinery


def _rules() -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}

    def add(severity: str, reason: str, ops: Iterable[str], **kw: Any) -> None:
        rules.update((op, _Rule(severity, reason, **kw)) for op in ops)

    add("high", "writes a file", ["WriteFile"], path=0)
    add("high", "calls a Python function of the loading process (runs arbitrary code)",
        ["PyFunc", "PyFuncStateless", "EagerPyFunc"])  # fmt: skip
    add("high", "writes checkpoint files outside the checkpoint machinery",
        ["SaveV2", "Save", "SaveSlices"], path=0, checkpoint=True)  # fmt: skip
    add("high", "merges checkpoint files and deletes its inputs, outside the checkpoint "
        "machinery", ["MergeV2Checkpoints"], path=1, checkpoint=True)  # fmt: skip
    add("high", "writes dataset files", ["SaveDataset", "SaveDatasetV2", "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord", "SnapshotDataset", "SnapshotDatasetV2",
        "DistributedSave"], path=1)  # fmt: skip
    add("high", "creates summary files", ["CreateSummaryFileWriter", "CreateSummaryDbWriter"],
        path=1)  # fmt: skip
    add("high", "starts an RPC server (opens a network port)", ["RpcServer", "RpcServerStart"])
    add("medium", "reads a file", ["ReadFile", "GenerateVocabRemapping"], path=0, reads=True)
    add("medium", "reads a file into a lookup table", ["InitializeTableFromTextFile",
        "InitializeTableFromTextFileV2"], path=1, reads=True)  # fmt: skip
    add("medium", "lists files matching a pattern", ["MatchingFiles", "MatchingFilesDataset",
        "ExperimentalMatchingFilesDataset"], path=0)  # fmt: skip
    add("medium", "reads files", ["TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset",
        "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2",
        "ExperimentalCSVDataset", "LMDBDataset", "ExperimentalLMDBDataset", "LoadDataset",
        "SnapshotDatasetReader", "SnapshotChunkDataset", "SnapshotNestedDatasetReader",
        "ListSnapshotChunksDataset"], path=0, reads=True)  # fmt: skip
    add("medium", "reads an SQLite database file", ["SqlDataset", "ExperimentalSqlDataset"],
        path=1)  # fmt: skip
    add("medium", "reads files named through a reader queue", ["WholeFileReader",
        "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "TFRecordReader",
        "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2",
        "LMDBReader"])  # fmt: skip
    add("medium", "restores checkpoint values outside the checkpoint machinery",
        ["RestoreV2", "Restore", "RestoreSlice", "DTensorRestoreV2"], path=0,
        checkpoint=True)  # fmt: skip
    add("medium", "reads a checkpoint", ["LoadAndRemapMatrix"], path=0)
    add("medium", "contacts the network", ["RpcClient", "RpcCall"], path=0)
    add("medium", "contacts a tf.data service over the network", ["DataServiceDataset",
        "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4"],
        path=2)  # fmt: skip
    add("medium", "sends a dataset to a tf.data service over the network",
        ["RegisterDataset", "RegisterDatasetV2"], path=1)  # fmt: skip
    add("medium", "runs a function on another task or device", ["RemoteCall"], path=0)
    add("medium", "changes the process's file system settings", ["FileSystemSetConfiguration"])
    add("medium", "aborts the whole process when run", ["Abort"])
    add("low", "prints tensor values to the process's output or log", ["Print", "PrintV2"])
    add("low", "writes summaries through a summary writer", ["WriteSummary",
        "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
        "WriteGraphSummary", "WriteRawProtoSummary", "ImportEvent"])  # fmt: skip
    add("low", "runs an embedded XLA program that tfhub cannot inspect",
        ["XlaCallModule", "XlaCustomCall", "XlaCustomCallV2"])  # fmt: skip
    return rules


_RULES = _rules()
_PASS_THROUGH = frozenset({"Identity", "IdentityN", "Snapshot", "StopGradient"})
_ARG_OFFSET = {"PartitionedCall": 0, "StatefulPartitionedCall": 0, "If": 1,
               "StatelessIf": 1, "Case": 1, "StatelessCase": 1}  # fmt: skip
_DEBUG_OPS = ("DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
              "DebugNumericSummary")  # fmt: skip
_Verdict = tuple[str, str] | None  # (severity, reason)


def _print_v2(node: Node, source: _Source) -> _Verdict:
    stream = node.attr_string("output_stream") or ""
    if stream.startswith("file://"):
        return "high", f"prints tensor values into a file ({_quote(stream[7:])})"
    return "low", "prints tensor values to the process's output or log"


def _debug(node: Node, source: _Source) -> _Verdict:
    urls = node.attr_strings("debug_urls")
    if not urls:
        return None
    return "high", f"sends tensor values to debugger URLs ({_quote(', '.join(urls))})"


def _attr_file(attr: str, severity: str, what: str) -> Callable[[Node, _Source], _Verdict]:
    def check(node: Node, source: _Source) -> _Verdict:
        value = node.attr_string(attr)
        return (severity, f"{what} ({_quote(value)})") if value else None

    return check


def _descriptor(node: Node, source: _Source) -> _Verdict:
    value = node.attr_string("descriptor_source") or "local://"
    if value == "local://" or value.startswith("bytes://"):
        return None
    return "medium", f"reads a protocol buffer descriptor file ({_quote(value)})"


def _dump_tensor(node: Node, source: _Source) -> _Verdict:
    if not node.attr_bool("enabled", default=True):
        return None
    folder = node.attr_string("log_dir_path") or ""
    return "high", f"writes tensor values into files ({_quote(folder)})"


def _cache_dataset(node: Node, source: _Source) -> _Verdict:
    if source.kind == "const":
        if not source.value:
            return None  # an in-memory cache
        return "high", f"writes cache files ({_quote(source.value)})"
    return "medium", "may write cache files to a path computed when it runs"


_CHECKS: dict[str, tuple[Callable[[Node, _Source], _Verdict], int | None]] = {
    "PrintV2": (_print_v2, None),
    **{op: (_debug, None) for op in _DEBUG_OPS},
    "ImmutableConst": (_attr_file("memory_region_name", "medium", "maps a file into memory"),
                       None),
    "RecordInput": (_attr_file("file_pattern", "medium", "reads files"), None),
    "CalibrationStatisticsSaver": (
        _attr_file("output_file_path", "high", "writes statistics into a file"), None),
    "DumpTensor": (_dump_tensor, None),
    "DecodeProtoV2": (_descriptor, None),
    "EncodeProto": (_descriptor, None),
    "CacheDataset": (_cache_dataset, 1),
    "CacheDatasetV2": (_cache_dataset, 1),
}  # fmt: skip


def _judge(node: Node, graph: Graph, context: _Context) -> Finding | None:
    check = _CHECKS.get(node.op)
    if check is not None:
        function, path = check
        verdict = function(node, context.source(graph, node, path))
        if verdict is None:
            return None
        severity, reason = verdict
    else:
        rule = _RULES.get(node.op)
        if rule is None or (rule.checkpoint and context.in_checkpoint_machinery(graph, node)):
            return None
        source = context.source(graph, node, rule.path)
        if rule.reads and source.kind == "asset":
            return None
        severity, reason = rule.severity, rule.reason + source.detail()
    return Finding(node.op, severity, graph.node_location(node), reason)


def _quote(value: str, limit: int = 120) -> str:
    shown = value if len(value) <= limit else value[:limit] + "..."
    return repr(shown)


# -- where paths come from, and the checkpoint machinery -------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where a path input comes from: ``asset`` (a file of the model), ``const`` (written in
    the graph, ``value``), ``arg`` (the caller's argument), ``computed`` or ``none``."""

    kind: str
    value: str = ""

    def detail(self) -> str:
        if self.kind == "const":
            return f" ({_quote(self.value)})"
        if self.kind == "arg":
            return " (a path from the function's inputs)"
        return ""


class _Context:
    """What one MetaGraph says about its normal file access, worked out on first use."""

    def __init__(self, meta_graph: MetaGraph) -> None:
        self.meta_graph = meta_graph
        self.top = meta_graph.graphs
        self._cone: set[str] | None = None
        self._checkpoint_functions: set[str] | None = None
        self._asset_args: dict[str, set[int]] | None = None

    def source(self, graph: Graph, node: Node, index: int | None) -> _Source:
        data = [i for i in node.inputs if not i.startswith("^")]
        if index is None or index >= len(data):
            return _Source("none")
        return self._trace(graph, data[index], None)

    def _trace(self, graph: Graph, ref: str, asset_args: dict[str, set[int]] | None) -> _Source:
        """Follows ``ref`` back through identities to where its value comes from (with the
        asset arguments known so far, or, when None, all of them)."""
        for _ in range(64):
            node, index = graph.producer(ref)
            if node is None:
                if index < 0 or graph.function is None:
                    return _Source("computed")
                if graph.owner is not self.top:
                    return _Source("arg")
                known = self.asset_args() if asset_args is None else asset_args
                return _Source("asset" if index in known.get(graph.function, ()) else "arg")
            if graph is self.top.main and node.name in self.meta_graph.asset_tensors:
                return _Source("asset")
            data = [i for i in node.inputs if not i.startswith("^")]
            if node.op in _PASS_THROUGH and data:
                ref = data[index if node.op == "IdentityN" and index < len(data) else 0]
                continue
            if node.op == "Const":
                values = node.const_strings()
                return _Source("const", values[0].decode("utf-8", "replace") if values else "")
            return _Source("computed")
        return _Source("computed")

    def asset_args(self) -> dict[str, set[int]]:
        """The function arguments that hold asset paths: the object graph's captures, then
        what calls pass on (a worklist: a function is looked at again only when one of its
        own arguments turned out to be an asset)."""
        if self._asset_args is not None:
            return self._asset_args
        args = {name: set(found) for name, found in self.meta_graph.asset_args.items()}
        functions = self.top.functions
        queue = deque(g for g in (self.top.main, *functions.values()) if g is not None)
        queued = {id(g) for g in queue}
        while queue:
            graph = queue.popleft()
            queued.discard(id(graph))
            for callee in self._pass_assets(graph, args):
                if id(functions[callee]) not in queued:
                    queue.append(functions[callee])
                    queued.add(id(functions[callee]))
        self._asset_args = args
        return args

    def _pass_assets(self, graph: Graph, args: dict[str, set[int]]) -> set[str]:
        """Marks the callee arguments that calls in ``graph`` pass asset paths to; returns
        the callees that gained one."""
        changed: set[str] = set()
        for node in graph.nodes:
            for step, callee in self.top.callees(node):
                offset = 0 if step == "op" else _ARG_OFFSET.get(node.op)
                if offset is None:
                    continue
                data = [i for i in node.inputs if not i.startswith("^")]
                for position, ref in enumerate(data[offset:]):
                    known = args.setdefault(callee, set())
                    if position not in known and self._trace(graph, ref, args).kind == "asset":
                        known.add(position)
                        changed.add(callee)
        return changed

    def in_checkpoint_machinery(self, graph: Graph, node: Node) -> bool:
        """Whether ``node`` belongs to what the MetaGraph's ``saver_def`` runs."""
        if graph.owner is not self.top:
            return False
        if graph.function is None:
            return node.name in self.cone()
        return graph.function in self.checkpoint_functions()

    def cone(self) -> set[str]:
        """The main-graph nodes the saver's tensors depend on."""
        if self._cone is None:
            self._cone = set()
            main = self.top.main
            queue = deque(self.meta_graph.saver_tensors)
            while queue and main is not None:
                name = queue.popleft()
                node = main.node(name)
                if node is None or name in self._cone:
                    continue
                self._cone.add(name)
                queue.extend(tensor_name(i)[0] for i in node.inputs)
        return self._cone

    def checkpoint_functions(self) -> set[str]:
        """Functions only the saver's nodes reach (a function also reached from anything
        else is not exempt)."""
        if self._checkpoint_functions is None:
            main = self.top.main.nodes if self.top.main is not None else []
            cone = self.cone()
            saver = _closure(self.top, [n for n in main if n.name in cone], ())
            others = set(self.top.functions) - saver
            other = _closure(self.top, [n for n in main if n.name not in cone], others)
            self._checkpoint_functions = saver - other
        return self._checkpoint_functions


def _closure(graphs: GraphSet, nodes: list[Node], functions: Iterable[str]) -> set[str]:
    """The functions ``nodes`` call, plus ``functions``, and all they call in turn."""
    found = set(functions)
    queue = deque(found)
    for node in nodes:
        for _, callee in graphs.callees(node):
            if callee not in found:
                found.add(callee)
                queue.append(callee)
    while queue:
        for node in graphs.functions[queue.popleft()].nodes:
            for _, callee in graphs.callees(node):
                if callee not in found:
                    found.add(callee)
                    queue.append(callee)
    return found
