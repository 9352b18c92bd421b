"""A minimal protocol-buffer wire-format reader: enough to read model metadata without
TensorFlow (field numbers come from TensorFlow's public ``.proto`` files).

Two views of the same reader: :func:`fields` yields each field's value (a memoryview slice
for length-delimited ones); :func:`spans` gives ``(number, wire type, start, end)`` offsets
into one buffer, with the one-byte keys and lengths TensorFlow writes decoded inline, for
walks over graphs with millions of small fields (:mod:`tfhub.inspection.graph_walk`).

Example:
    >>> msg = bytes([0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69])  # field 1 = 150, field 2 = "hi"
    >>> [(n, v if isinstance(v, int) else bytes(v)) for n, v in fields(msg)]
    [(1, 150), (2, b'hi')]
    >>> spans(msg, 0, len(msg))
    [(1, 0, 150, 3), (2, 2, 5, 7)]
    >>> map_entry(bytes([0x0A, 1, ord("k"), 0x12, 1, ord("v")]), 0, 6)  # key "k", value "v"
    ((2, 3), (5, 6))
"""

from __future__ import annotations

from collections.abc import Iterator

from tfhub.errors import ModelFormatError

Value = int | memoryview
Buffer = bytes | memoryview


def varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    if pos < end and buf[pos] < 0x80:
        return buf[pos], pos + 1
    result = shift = 0
    while True:
        if pos >= end:
            raise ModelFormatError("Truncated protocol buffer (varint runs past the end).")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelFormatError("Malformed protocol buffer (varint longer than 10 bytes).")


def spans(buf: Buffer, pos: int, end: int) -> list[tuple[int, int, int, int]]:
    """The fields of the message in ``buf[pos:end]`` as ``(number, wire type, a, b)``: for a
    length-delimited field its bytes are ``buf[a:b]``; for a varint ``a`` is the value."""
    out: list[tuple[int, int, int, int]] = []
    while pos < end:
        key = buf[pos]
        if key < 0x80 and key & 7 == 2 and pos + 1 < end and buf[pos + 1] < 0x80:
            field = (key >> 3, 2, pos + 2, pos + 2 + buf[pos + 1])  # the common case, inline
            if field[3] > end:
                raise ModelFormatError("Truncated protocol buffer (field runs past the end).")
        else:
            field = span_at(buf, pos, end)
        out.append(field)
        pos = field[3]
    return out


def span_at(buf: Buffer, pos: int, end: int) -> tuple[int, int, int, int]:
    """The field at ``pos`` as ``(number, wire type, a, b)``; ``b`` is where the next field
    starts (for a varint, ``a`` is its value)."""
    key, pos = varint(buf, pos, end)
    wire = key & 7
    if wire == 2:
        size, pos = varint(buf, pos, end)
        stop = pos + size
    elif wire == 0:
        value, stop = varint(buf, pos, end)
        return key >> 3, 0, value, stop
    elif wire in (1, 5):
        stop = pos + (8 if wire == 1 else 4)
    else:
        raise ModelFormatError(f"Unsupported protocol buffer wire type {wire}.")
    if stop > end:
        raise ModelFormatError("Truncated protocol buffer (field runs past the end).")
    return key >> 3, wire, pos, stop


def map_entry(buf: Buffer, start: int, end: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The key and value byte ranges of a map entry (string key, message value)."""
    if end - start > 2 and buf[start] == 0x0A and buf[start + 1] < 0x80:  # as TF writes it
        key_end = start + 2 + buf[start + 1]
        if key_end < end and buf[key_end] == 0x12:
            size, value = varint(buf, key_end + 1, end)
            if value + size == end:
                return (start + 2, key_end), (value, end)
    key = value_range = (start, start)
    for number, wire, a, b in spans(buf, start, end):
        if wire == 2 and number == 1:
            key = (a, b)
        elif wire == 2 and number == 2:
            value_range = (a, b)
    return key, value_range


def fields(data: Buffer) -> Iterator[tuple[int, Value]]:
    """Yields ``(field_number, value)``: ints for varint/fixed fields, memoryviews (no copy)
    for length-delimited ones (strings, bytes, sub-messages, packed arrays)."""
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        number, wire_type, a, pos = span_at(view, pos, end)
        if wire_type == 0:
            yield number, a
        elif wire_type == 2:
            yield number, view[a:pos]
        else:
            yield number, int.from_bytes(view[a:pos], "little")


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
