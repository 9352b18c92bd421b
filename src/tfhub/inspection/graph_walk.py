"""Every node of a SavedModel's graphs, read without TensorFlow.

A ``saved_model.pb`` holds MetaGraphs. Each has a main graph (``GraphDef.node``) and a
function library (``GraphDef.library``). Nodes reach functions through attributes of type
``func`` / ``list(func)`` (``If``/``While`` branches, ``PartitionedCall``, dataset ``map``
functions, ...) or by having a function's name as their op. Serialized GraphDefs can also
hide in string constants and string attributes (``DatasetFromGraph`` runs one): those that
parse as a GraphDef are walked too, to a bounded depth. Every function is parsed once, and
every function of a library is walked, referenced or not (cycles are harmless).

Locations say where a node is, through the attributes that lead to it::

    meta_graph[serve]/graph/node 'x'
    meta_graph[serve]/function '__inference_f_12'/node 'y'
    meta_graph[serve]/function 'f'/node 'cond'/attr 'then_branch'/function 'g'/node 'z'
    meta_graph[serve]/graph/node 'c'/attr 'value'/graph_def/graph/node 'r'

A function is named on its own (``function 'f'``) when the main graph calls it, when the
object graph lists it as a concrete function, or when nothing calls it; otherwise by the
shortest path of calls from such a function.

Example:
    >>> model = read_graphs(b"")
    >>> model.meta_graphs, model.nodes_scanned
    ([], 0)
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from tfhub.core.wire import Value, fields, map_entry, message, span_at, spans, text, varint
from tfhub.errors import ModelFormatError

__all__ = [
    "MAX_EMBEDDED_DEPTH",
    "MAX_NODES",
    "Graph",
    "GraphSet",
    "MetaGraph",
    "Node",
    "SavedModelGraphs",
    "read_graphs",
    "tensor_name",
]

MAX_EMBEDDED_DEPTH = 3
"""How deep serialized GraphDefs nested in attributes are followed."""
MAX_NODES = 20_000_000
"""Nodes walked at most in one model (a bound on work, far above real models)."""

_DT_STRING = 7
_MIN_EMBEDDED_BYTES = 8
_NAME = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9_.\-/>]*$")  # node, op and function names


class _NotAGraph(Exception):
    """A string that looked like a serialized GraphDef is not one."""


class _Budget:
    """Counts the nodes walked and remembers where a limit stopped the walk."""

    def __init__(self) -> None:
        self.nodes = 0
        self.functions = 0
        self.stopped: list[tuple[str, str, str]] = []  # (location, op, what was not walked)

    def take(self, count: int, location: str) -> bool:
        if self.nodes + count > MAX_NODES:
            self.stopped.append((location, "GraphDef", f"more than {MAX_NODES} nodes in all"))
            return False
        self.nodes += count
        return True


class Node:
    """One ``NodeDef``: name, op, inputs (as written: ``x``, ``x:1``, ``f:output:0``,
    ``^ctrl``) and the functions it calls, as ``(step, function)`` with ``step`` like
    ``attr 'then_branch'`` (or ``op`` when the op is a function name). Inputs and ``attrs``
    (the raw ``AttrValue`` messages by name) are parsed on first use."""

    __slots__ = ("_attrs", "_buf", "_end", "_inputs", "_start", "calls", "embedded", "name", "op")

    def __init__(self, buf: bytes, start: int, end: int, strict: bool = False) -> None:
        self._buf, self._start, self._end = buf, start, end
        self._attrs: dict[str, memoryview] | None = None
        self._inputs: tuple[str, ...] | None = None
        self.name = self.op = ""
        self.calls: list[tuple[str, str]] = []
        self.embedded: list[tuple[str, int, int]] = []  # (attribute, start, end)
        pos = start
        while pos < end:  # spans(), inlined for the hottest loop: fields 1 (name), 2 (op), 5
            key = buf[pos]
            if key < 0x80 and pos + 1 < end and buf[pos + 1] < 0x80 and key & 7 == 2:
                a, b = pos + 2, pos + 2 + buf[pos + 1]
            else:
                number, wire, a, b = span_at(buf, pos, end)
                if wire != 2:
                    pos = b
                    continue
                key = number << 3 | 2
            if b > end:
                raise ModelFormatError("Truncated protocol buffer (field runs past the end).")
            pos = b
            if key == 0x0A:
                self.name = buf[a:b].decode("utf-8", "replace")
            elif key == 0x12:
                self.op = buf[a:b].decode("utf-8", "replace")
            elif key == 0x2A:
                _attr(buf, a, b, self)
        if strict and not (_NAME.match(self.name) and _NAME.match(self.op)):
            raise _NotAGraph

    @property
    def inputs(self) -> tuple[str, ...]:
        if self._inputs is None:
            buf = self._buf
            self._inputs = tuple(
                buf[a:b].decode("utf-8", "replace")
                for n, w, a, b in spans(buf, self._start, self._end)
                if n == 3 and w == 2
            )
        return self._inputs

    @property
    def attrs(self) -> dict[str, memoryview]:
        if self._attrs is None:
            view = memoryview(self._buf)
            self._attrs = {key: view[a:b] for key, (a, b) in self._attr_ranges().items()}
        return self._attrs

    def _attr_ranges(self) -> dict[str, tuple[int, int]]:
        ranges = {}
        for n, w, a, b in spans(self._buf, self._start, self._end):
            if n == 5 and w == 2:
                (ka, kb), value = map_entry(self._buf, a, b)
                ranges[self._buf[ka:kb].decode("utf-8", "replace")] = value
        return ranges

    def attr_string(self, name: str) -> str | None:
        """The value of a ``string`` attribute, None if absent or of another type."""
        for number, value in fields(self.attrs.get(name, b"")):
            if number == 2:
                return text(value)
        return None

    def attr_bool(self, name: str, default: bool) -> bool:
        """The value of a ``bool`` attribute, ``default`` if absent."""
        for number, value in fields(self.attrs.get(name, b"")):
            if number == 5:
                return bool(value)
        return default

    def attr_strings(self, name: str) -> list[str]:
        """The values of a ``list(string)`` attribute (empty if absent)."""
        found: list[str] = []
        for number, value in fields(self.attrs.get(name, b"")):
            if number == 1:
                found += [text(v) for n, v in fields(message(value)) if n == 2]
        return found

    def const_strings(self) -> list[bytes]:
        """The ``string_val`` of a string ``value`` tensor attribute (a ``Const``)."""
        start, end = self._attr_ranges().get("value", (0, 0))
        for number, wire, a, b in spans(self._buf, start, end):
            if number == 8 and wire == 2:
                return [self._buf[x:y] for x, y in _tensor_strings(self._buf, a, b)]
        return []


@dataclass
class Graph:
    """The nodes of one graph body: a GraphDef's main graph or one function."""

    location: str
    nodes: list[Node]
    owner: GraphSet
    function: str | None = None  # the function's name; None for a main graph
    args: tuple[str, ...] = ()  # the function's input argument names
    _by_name: dict[str, Node] | None = field(default=None, repr=False)

    def node(self, name: str) -> Node | None:
        if self._by_name is None:
            self._by_name = {n.name: n for n in self.nodes}
        return self._by_name.get(name)

    def node_location(self, node: Node) -> str:
        return f"{self.location}/node '{_show(node.name)}'"

    def producer(self, ref: str) -> tuple[Node | None, int]:
        """What an input ``ref`` of a node of this graph reads: ``(node, output index)``,
        or ``(None, argument index)`` for a function argument, ``(None, -1)`` if unknown."""
        name, index = tensor_name(ref)
        if self.function is not None and ":" not in ref.lstrip("^") and name in self.args:
            return None, self.args.index(name)
        node = self.node(name)
        return (node, index) if node is not None else (None, -1)


def tensor_name(ref: str) -> tuple[str, int]:
    """``(node name, output index)`` of a tensor or input reference.

    >>> tensor_name("save/Const:0"), tensor_name("^init"), tensor_name("f:output:1")
    (('save/Const', 0), ('init', 0), ('f', 1))
    """
    parts = ref.lstrip("^").split(":")
    index = parts[-1] if len(parts) > 1 else "0"
    return parts[0], int(index) if index.isdigit() else 0


@dataclass
class GraphSet:
    """One GraphDef: its main graph, its functions (by name) and the GraphDefs found
    serialized inside its attributes. ``depth`` is 0 for a MetaGraph's own graph."""

    prefix: str
    depth: int
    main: Graph | None = None
    functions: dict[str, Graph] = field(default_factory=dict)
    embedded: list[GraphSet] = field(default_factory=list)

    def callees(self, node: Node) -> Iterator[tuple[str, str]]:
        """``(step, function)`` for each function of this library ``node`` calls."""
        return _calls(node, self.functions)

    def graphs(self) -> Iterator[Graph]:
        """Every graph: the main graph, the functions, then the embedded GraphDefs'."""
        if self.main is not None:
            yield self.main
        yield from self.functions.values()
        for inner in self.embedded:
            yield from inner.graphs()


@dataclass
class MetaGraph:
    """One MetaGraph: its graphs and what tells normal file access apart."""

    tags: tuple[str, ...]
    graphs: GraphSet
    saver_tensors: tuple[str, ...] = ()  # SaverDef: filename, save and restore node names
    asset_tensors: frozenset[str] = frozenset()  # main-graph nodes holding asset paths
    asset_args: dict[str, frozenset[int]] = field(default_factory=dict)  # TF2 captures
    label: str = ""


@dataclass
class SavedModelGraphs:
    """What :func:`read_graphs` found."""

    meta_graphs: list[MetaGraph]
    nodes_scanned: int = 0
    functions_scanned: int = 0
    stopped: list[tuple[str, str, str]] = field(default_factory=list)  # (location, op, what)


# -- reading ---------------------------------------------------------------------------------


def read_graphs(saved_model: bytes | memoryview) -> SavedModelGraphs:
    """Parses every graph of a serialized ``SavedModel``. Parts are referred to by offsets
    into the one buffer (no copies), and each function is parsed once.

    Raises:
        ModelFormatError: the bytes are not a well-formed protocol buffer.
    """
    buf = saved_model if isinstance(saved_model, bytes) else bytes(saved_model)
    budget = _Budget()
    metas: list[MetaGraph] = []
    seen: dict[str, int] = {}
    for number, wire, a, b in spans(buf, 0, len(buf)):
        if number == 2 and wire == 2:
            metas.append(_meta_graph(buf, a, b, budget, seen))
    return SavedModelGraphs(metas, budget.nodes, budget.functions, budget.stopped)


def _meta_graph(
    buf: bytes, start: int, end: int, budget: _Budget, seen: dict[str, int]
) -> MetaGraph:
    tags: list[str] = []
    graph_def = (start, start)
    saver: list[str] = []
    assets: set[str] = set()
    object_graph: tuple[int, int] | None = None
    view = memoryview(buf)
    for number, wire, a, b in spans(buf, start, end):
        if wire != 2:
            continue
        if number == 1:
            tags += [text(v) for n, v in fields(view[a:b]) if n == 4]
        elif number == 2:
            graph_def = (a, b)
        elif number == 3:
            saver = [tensor_name(text(v))[0] for n, v in fields(view[a:b]) if n in (1, 2, 3)]
        elif number == 4:
            assets |= _collection_assets(buf, a, b)
        elif number == 6:
            assets.add(_asset_tensor(view[a:b]))
        elif number == 7:
            object_graph = (a, b)
    label = _show(",".join(sorted(tags)))
    seen[label] = seen.get(label, 0) + 1
    if seen[label] > 1:
        label += f"#{seen[label]}"
    captures, top_level = ({}, set()) if object_graph is None else _object_graph(buf, *object_graph)
    graphs = _graph_set(buf, *graph_def, f"meta_graph[{label}]", 0, budget, top_level)
    asset_args = _asset_args(graphs, captures)
    return MetaGraph(
        tuple(sorted(tags)), graphs, tuple(s for s in saver if s), frozenset(assets - {""}),
        asset_args, label,
    )  # fmt: skip


def _graph_set(
    buf: bytes,
    start: int,
    end: int,
    prefix: str,
    depth: int,
    budget: _Budget,
    top_level: set[str] | None = None,
    strict: bool = False,
) -> GraphSet:
    """Parses one GraphDef; ``strict`` (for strings that may not be graphs at all) raises
    :class:`_NotAGraph` at the first thing a real GraphDef would not hold."""
    graphs = GraphSet(prefix, depth)
    nodes: list[Node] = []
    functions: list[tuple[str, tuple[str, ...], list[Node]]] = []
    for number, wire, a, b in spans(buf, start, end):
        if number == 1 and wire == 2:
            nodes.append(Node(buf, a, b, strict))
        elif number == 2 and wire == 2:
            for n, w, x, y in spans(buf, a, b):
                if n == 1 and w == 2:
                    functions.append(_function(buf, x, y, strict))
        elif strict and number not in (3, 4, 5):
            raise _NotAGraph
    if strict and not nodes and not functions:
        raise _NotAGraph
    count = len(nodes) + sum(len(f[2]) for f in functions)
    if not budget.take(count, prefix):
        return graphs
    budget.functions += len(functions)
    graphs.main = Graph(f"{prefix}/graph", nodes, graphs)
    for name, args, body in functions:
        graphs.functions.setdefault(name, Graph("", body, graphs, name, args))
    _locate(graphs, top_level or set())
    if depth <= MAX_EMBEDDED_DEPTH:
        _find_embedded(buf, graphs, budget)
    return graphs


def _function(
    buf: bytes, start: int, end: int, strict: bool
) -> tuple[str, tuple[str, ...], list[Node]]:
    name, args, body = "", [], []
    for number, wire, a, b in spans(buf, start, end):
        if wire != 2:
            continue
        if number == 1:  # signature: OpDef
            for n, w, x, y in spans(buf, a, b):
                if n == 1 and w == 2:
                    name = buf[x:y].decode("utf-8", "replace")
                elif n == 2 and w == 2:  # input_arg: ArgDef, name = 1
                    found = [buf[i:j] for m, v, i, j in spans(buf, x, y) if m == 1 and v == 2]
                    args.append(found[-1].decode("utf-8", "replace") if found else "")
        elif number == 3:
            body.append(Node(buf, a, b, strict))
    if strict and not _NAME.match(name):
        raise _NotAGraph
    return name, tuple(args), body


def _locate(graphs: GraphSet, top_level: set[str]) -> None:
    """Gives every function its location: roots by name, the others by the shortest path
    of calls from a root (breadth first; each function once, so cycles end)."""
    functions = graphs.functions
    called = {
        callee
        for graph in functions.values()
        for node in graph.nodes
        for _, callee in _calls(node, functions)
    }
    main_calls = [
        callee
        for node in (graphs.main.nodes if graphs.main is not None else [])
        for _, callee in _calls(node, functions)
    ]
    roots = list(dict.fromkeys(main_calls))
    roots += sorted(top_level - set(roots))
    roots += [name for name in functions if name not in called]
    queue: deque[str] = deque()
    for batch in (roots, list(functions)):  # functions only reached from a cycle come last
        for name in batch:
            if name in functions and not functions[name].location:
                functions[name].location = f"{graphs.prefix}/function '{_show(name)}'"
                queue.append(name)
        while queue:
            _visit(functions[queue.popleft()], functions, queue)


def _visit(graph: Graph, functions: dict[str, Graph], queue: deque[str]) -> None:
    for node in graph.nodes:
        for step, callee in _calls(node, functions):
            target = functions[callee]
            if not target.location:
                where = f"{graph.node_location(node)}/{step}"
                target.location = f"{where}/function '{_show(callee)}'"
                queue.append(callee)


def _calls(node: Node, functions: dict[str, Graph]) -> Iterator[tuple[str, str]]:
    """The functions of this library a node calls (through attributes or as its op)."""
    for step, callee in node.calls:
        if callee in functions:
            yield step, callee
    if node.op in functions:
        yield "op", node.op


def _find_embedded(buf: bytes, graphs: GraphSet, budget: _Budget) -> None:
    """Parses the serialized GraphDefs held in string tensors and string attributes. Past
    :data:`MAX_EMBEDDED_DEPTH`, one found is noted in ``budget.stopped``, not walked."""
    too_deep = graphs.depth >= MAX_EMBEDDED_DEPTH
    for graph in [graphs.main, *graphs.functions.values()]:
        if graph is None:
            continue
        for node in graph.nodes:
            for key, start, end in node.embedded:
                where = f"{graph.node_location(node)}/attr '{_show(key)}'/graph_def"
                try:
                    inner = _graph_set(
                        buf, start, end, where, graphs.depth + 1,
                        _Budget() if too_deep else budget, strict=True,
                    )  # fmt: skip
                except (_NotAGraph, ModelFormatError):
                    continue
                if too_deep:
                    what = f"a GraphDef nested more than {MAX_EMBEDDED_DEPTH} levels deep"
                    budget.stopped.append((where, node.op, what))
                else:
                    graphs.embedded.append(inner)


def _show(name: str) -> str:
    """``name`` for a location: control characters escaped (names come from the model)."""
    return (
        name
        if name.isprintable()
        else "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
    )


# -- attributes --------------------------------------------------------------------------


_SCALAR_TAGS = frozenset({0x18, 0x28, 0x30})  # AttrValue i, b, type: one short varint


def _attr(buf: bytes, start: int, end: int, node: Node) -> None:
    """Reads one attribute map entry of ``node``: the functions it names (``func``,
    ``list(func)``) and the strings that may be serialized GraphDefs (``s``, a string
    ``tensor``). Scalars, shapes and lists without functions are skipped unparsed."""
    (ka, kb), (va, vb) = map_entry(buf, start, end)
    size = vb - va
    if size < 2 or (buf[va] in _SCALAR_TAGS and size == 2):
        return
    single = buf[va] in (0x0A, 0x3A) and buf[va + 1] < 0x80 and size == 2 + buf[va + 1]
    if single and (buf[va] == 0x3A or buf.find(b"\x4a", va + 2, vb) < 0):
        return  # one shape, or one list with no func element (field 9)
    key = buf[ka:kb].decode("utf-8", "replace")
    for number, wire, a, b in spans(buf, va, vb):
        if wire != 2:
            continue
        if number in (1, 10):  # list, func
            _attr_calls(buf, number, a, b, f"attr '{_show(key)}'", node.calls, 0)
        elif number in (2, 8):  # s, tensor
            strings = [(a, b)] if number == 2 else _tensor_strings(buf, a, b)
            node.embedded += [
                (key, x, y)
                for x, y in strings
                if y - x >= _MIN_EMBEDDED_BYTES and buf[x] in (0x0A, 0x12)
            ]


def _attr_calls(
    buf: bytes, number: int, a: int, b: int, step: str, out: list[tuple[str, str]], depth: int
) -> None:
    """Adds the functions an ``AttrValue`` field names: a ``func`` (10) or the ``func``
    elements of a ``list`` (1), with the attributes of those ``NameAttrList`` s, a few levels
    deep."""
    if number == 1 and buf.find(b"\x4a", a, b) < 0:
        return  # a list without a func (field 9) element
    named = [(a, b)] if number == 10 else [(x, y) for n, w, x, y in spans(buf, a, b)
                                           if n == 9 and w == 2]  # fmt: skip
    for x, y in named:  # NameAttrList: name = 1, attr = 2
        for n, w, i, j in spans(buf, x, y):
            if n == 1 and w == 2:
                out.append((step, buf[i:j].decode("utf-8", "replace")))
            elif n == 2 and w == 2 and depth < 4:
                (ka, kb), (va, vb) = map_entry(buf, i, j)
                inner = f"{step}/attr '{_show(buf[ka:kb].decode('utf-8', 'replace'))}'"
                for m, v, p, q in spans(buf, va, vb):
                    if m in (1, 10) and v == 2:
                        _attr_calls(buf, m, p, q, inner, out, depth + 1)


def _tensor_strings(buf: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """The byte ranges of the ``string_val`` s of a TensorProto of dtype string."""
    dtype, strings = 0, []
    for number, wire, a, b in spans(buf, start, end):
        if number == 1 and wire == 0:
            dtype = a
        elif number == 8 and wire == 2:
            strings.append((a, b))
    return strings if dtype == _DT_STRING else []


def _asset_tensor(asset_file_def: Value) -> str:
    for number, value in fields(message(asset_file_def)):
        if number == 1:  # tensor_info.name
            return tensor_name(text(dict(fields(message(value))).get(1, memoryview(b""))))[0]
    return ""


def _collection_assets(buf: bytes, start: int, end: int) -> set[str]:
    """Asset tensors listed by the ``saved_model_assets`` (AssetFileDefs in an any_list)
    and ``asset_filepaths`` (tensor names) collections of TF1 models."""
    (ka, kb), (va, vb) = map_entry(buf, start, end)
    key, collection = buf[ka:kb].decode("utf-8", "replace"), memoryview(buf)[va:vb]
    found: set[str] = set()
    if key not in ("saved_model_assets", "asset_filepaths"):
        return found
    for number, value in fields(collection):
        if number == 1:  # node_list
            found |= {tensor_name(text(v))[0] for n, v in fields(message(value)) if n == 1}
        elif number == 5:  # any_list of Any(AssetFileDef)
            for n, packed in fields(message(value)):
                if n == 1:
                    found.add(_asset_tensor(dict(fields(message(packed))).get(2, memoryview(b""))))
    return found


def _object_graph(
    buf: bytes, start: int, end: int
) -> tuple[dict[str, tuple[int, list[int]]], set[str]]:
    """``({function: (number of captures, which of them are assets)}, {concrete function
    names})`` from a TF2 ``SavedObjectGraph``."""
    assets: set[int] = set()
    bound: dict[str, list[int]] = {}
    index = 0
    for number, wire, a, b in spans(buf, start, end):
        if number == 1 and wire == 2:  # nodes: SavedObject; kind asset = 5
            if any(n == 5 for n, _, _, _ in spans(buf, a, b)):
                assets.add(index)
            index += 1
        elif number == 2 and wire == 2:  # concrete_functions: name -> SavedConcreteFunction
            (ka, kb), (va, vb) = map_entry(buf, a, b)
            bound[buf[ka:kb].decode("utf-8", "replace")] = _bound_inputs(buf, va, vb)
    captures = {
        name: (len(ids), [i for i, node in enumerate(ids) if node in assets])
        for name, ids in bound.items()
    }
    return {name: c for name, c in captures.items() if c[1]}, set(bound)


def _bound_inputs(buf: bytes, start: int, end: int) -> list[int]:
    """``SavedConcreteFunction.bound_inputs`` (field 2, repeated int32, packed or not)."""
    ids: list[int] = []
    for number, wire, a, b in spans(buf, start, end):
        if number == 2 and wire == 0:
            ids.append(a)
        elif number == 2 and wire == 2:
            pos = a
            while pos < b:
                value, pos = varint(buf, pos, b)
                ids.append(value)
    return ids


def _asset_args(
    graphs: GraphSet, captures: dict[str, tuple[int, list[int]]]
) -> dict[str, frozenset[int]]:
    """The argument indexes of each function that the object graph binds to assets: the
    captures come last in a function's arguments, in ``bound_inputs`` order."""
    found: dict[str, frozenset[int]] = {}
    for name, (count, which) in captures.items():
        graph = graphs.functions.get(name)
        if graph is None or count > len(graph.args):
            continue
        first = len(graph.args) - count
        found[name] = frozenset(first + i for i in which)
    return found
