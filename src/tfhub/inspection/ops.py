"""Op libraries: which ops of a model are not core TensorFlow, and which PyPI package usually
registers them, without importing TensorFlow.

``tf_core_ops.txt`` (beside this module, shipped in the wheel) lists every op TensorFlow 2.21
registers, one per line, sorted. Regenerate it after a TensorFlow upgrade with
``python scripts/gen_core_ops.py`` (a fresh interpreter that imports TensorFlow alone, so that
no op library such as ``tensorflow_text`` adds its ops); ``--check`` compares instead.

Example:
    >>> is_core_op("MatMul"), is_core_op("SentencepieceOp")
    (True, False)
    >>> op_libraries(["MatMul", "SentencepieceOp", "CaseFoldUTF8", "MyCustomOp"])
    [('tensorflow-text', ('CaseFoldUTF8', 'SentencepieceOp')), (None, ('MyCustomOp',))]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

__all__ = ["CORE_OPS_FILE", "core_ops", "is_core_op", "op_libraries", "package_for_op"]

CORE_OPS_FILE = "tf_core_ops.txt"

_PREFIX_PACKAGES = {
    "TFText>": "tensorflow-text",
    "Addons>": "tensorflow-addons",
    "IO>": "tensorflow-io",
    "TFRA>": "tensorflow-recommenders-addons",
    "Scann>": "scann",
    "SimpleML": "tensorflow-decision-forests",
}
_OP_PACKAGES = {
    "tensorflow-text": (
        "SentencepieceOp", "SentencepieceTokenizeOp", "SentencepieceTokenizeWithOffsetsOp",
        "SentencepieceDetokenizeOp", "SentencepieceIdToStringOp", "SentencepieceStringToIdOp",
        "SentencepieceVocabSizeOp", "CaseFoldUTF8", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap",
        "FindSourceOffsets", "RegexSplitWithOffsets", "WordpieceTokenizeWithOffsets",
        "UnicodeScriptTokenizeWithOffsets", "WhitespaceTokenizeWithOffsets",
        "WhitespaceTokenizeWithOffsetsV2", "FastWordpieceTokenizeWithOffsets", "FastBertNormalize",
        "SplitMergeTokenizeWithOffsets", "TokenizerFromLogits", "ConstrainedSequence",
        "MaxSpanningTree", "NgramsStringJoin", "MitieTokenizeWithOffsets", "PhraseTokenize",
        "RougeL", "SentenceFragments", "SentenceFragmentsV2",
    ),
    "tensorflow-decision-forests": ("SimpleMLInferenceOpWithHandle", "SimpleMLCreateModelResource"),
    "tf-sentencepiece": (
        "SentencepieceEncodeDense", "SentencepieceEncodeSparse", "SentencepieceDecode",
        "SentencepieceGetPieceSize", "SentencepieceIdToPiece", "SentencepiecePieceToId",
    ),
}  # fmt: skip
_BY_OP = {op: package for package, ops in _OP_PACKAGES.items() for op in ops}


@functools.cache
def core_ops() -> frozenset[str]:
    """Every op core TensorFlow 2.21 registers (read once from ``tf_core_ops.txt``)."""
    listing = resources.files(__package__ or "tfhub.inspection").joinpath(CORE_OPS_FILE)
    return frozenset(line for line in listing.read_text("utf-8").split() if line)


def is_core_op(op: str) -> bool:
    """Whether core TensorFlow registers ``op`` (no extra package needed)."""
    return op in core_ops()


def package_for_op(op: str) -> str | None:
    """The PyPI package that usually registers ``op``, if known.

    >>> package_for_op("SentencepieceOp")
    'tensorflow-text'
    >>> package_for_op("Addons>ImageProjectiveTransformV2")
    'tensorflow-addons'
    """
    for prefix, package in _PREFIX_PACKAGES.items():
        if op.startswith(prefix):
            return package
    return _BY_OP.get(op)


def op_libraries(ops: Iterable[str]) -> list[tuple[str | None, tuple[str, ...]]]:
    """The ops of ``ops`` that core TensorFlow lacks, grouped by the package that provides
    them: ``[(package or None when unknown, sorted ops)]``, known packages first, by name."""
    groups: dict[str | None, set[str]] = {}
    core = core_ops()
    for op in ops:
        if op and op not in core:
            groups.setdefault(package_for_op(op), set()).add(op)
    order = sorted(groups, key=lambda p: (p is None, p or ""))
    return [(package, tuple(sorted(groups[package]))) for package in order]
