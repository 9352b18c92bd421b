"""Turning TensorFlow's bare "Op type not registered" into an error that says what to install."""

from __future__ import annotations

import re

from tfhub.errors import MissingOpError

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
        "SentencepieceOp", "SentencepieceTokenizeOp", "SentencepieceDetokenizeOp",
        "SentencepieceIdToStringOp", "SentencepieceStringToIdOp", "SentencepieceVocabSizeOp",
        "CaseFoldUTF8", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap", "RegexSplitWithOffsets",
        "WordpieceTokenizeWithOffsets", "UnicodeScriptTokenizeWithOffsets",
        "WhitespaceTokenizeWithOffsets", "WhitespaceTokenizeWithOffsetsV2",
        "FastWordpieceTokenizeWithOffsets", "FastBertNormalize", "SplitMergeTokenizeWithOffsets",
        "TokenizerFromLogits", "ConstrainedSequence", "MaxSpanningTree", "NgramsStringJoin",
        "MitieTokenizeWithOffsets",
    ),
    "tensorflow-decision-forests": ("SimpleMLInferenceOpWithHandle", "SimpleMLCreateModelResource"),
}  # fmt: skip
_NOT_REGISTERED = re.compile(r"Op type not registered '([^']+)'")


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
    for package, ops in _OP_PACKAGES.items():
        if op in ops:
            return package
    return None


def missing_op_error(message: str, label: str) -> MissingOpError | None:
    """A :class:`~tfhub.MissingOpError` for TF's "Op type not registered" message, else None."""
    match = _NOT_REGISTERED.search(message)
    if match is None:
        return None
    op = match.group(1)
    package = package_for_op(op)
    hint = (
        f"It is usually provided by the {package} package: pip install {package} and import it "
        "(e.g. `import tensorflow_text`) before loading."
        if package
        else "Install and import the package that defines this op before loading."
    )
    return MissingOpError(f"{label} uses the TensorFlow op {op!r}, which is not registered. {hint}")
