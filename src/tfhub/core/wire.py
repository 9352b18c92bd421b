"""A minimal protocol-buffer wire-format reader: enough to read model metadata without
TensorFlow (field numbers come from TensorFlow's public ``.proto`` files).

Example:
    >>> msg = bytes([0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69])  # field 1 = 150, field 2 = "hi"
    >>> [(n, v if isinstance(v, int) else bytes(v)) for n, v in fields(msg)]
    [(1, 150), (2, b'hi')]
"""

from __future__ import annotations

from collections.abc import Iterator

from tfhub.errors import ModelFormatError

Value = int | memoryview


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ModelFormatError("Truncated protocol buffer (varint runs past the end).")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelFormatError("Malformed protocol buffer (varint longer than 10 bytes).")


def fields(data: bytes | memoryview) -> Iterator[tuple[int, Value]]:
    """Yields ``(field_number, value)``: ints for varint/fixed fields, memoryviews (no copy)
    for length-delimited ones (strings, bytes, sub-messages, packed arrays)."""
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        key, pos = _varint(view, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(view, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = _varint(view, pos)
            if pos + length > end:
                raise ModelFormatError("Truncated protocol buffer (field runs past the end).")
            yield number, view[pos : pos + length]
            pos += length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            if pos + size > end:
                raise ModelFormatError("Truncated protocol buffer (fixed field past the end).")
            yield number, int.from_bytes(view[pos : pos + size], "little")
            pos += size
        else:
            raise ModelFormatError(f"Unsupported protocol buffer wire type {wire_type}.")


def text(value: Value) -> str:
    """A length-delimited field as UTF-8 text."""
    if isinstance(value, int):
        raise ModelFormatError("Expected a string field, found a number.")
    return bytes(value).decode("utf-8", errors="replace")


def message(value: Value) -> memoryview:
    """A length-delimited field as a sub-message."""
    if isinstance(value, int):
        raise ModelFormatError("Expected a message field, found a number.")
    return value
