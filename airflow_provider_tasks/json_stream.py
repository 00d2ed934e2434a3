"""Read one big array of a JSON document item by item, from a file, in bounded memory.

A Post-e-Ketab task's ``task_result`` may hold a hundred thousand rows; parsing the whole body
at once costs several times its size in Python objects. The document is walked with the standard
library's C decoder: every value is decoded whole (they are small), except the items of the array
at ``path``, which are handed out one at a time. Malformed or cut-off JSON raises ``ValueError``.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
import time
from collections.abc import Generator, Iterator, Sequence
from typing import IO, Any

__all__ = ["StreamedArray", "askim", "iter_items", "load"]

_CHUNK = 1 << 16
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_AFTER_NUMBER = frozenset(",]} \t\n\r")
#: How long :func:`askim` may hold the event loop between two yields (seconds).
_SLICE = 0.01


class _Reader:
    """A decoded text window over a binary stream, refilled as values are consumed."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def _fill(self, at_least: int = _CHUNK) -> bool:
        """Append more text; False once the stream is exhausted."""
        if self.eof:
            return False
        data = self._stream.read(max(at_least, _CHUNK))
        if not data:
            self.eof = True
        more = self._utf8.decode(data, final=self.eof)
        self.text = self.text[self.pos :] + more
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the stream)."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._fill():
                return ""

    def take(self, allowed: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            raise ValueError(f"expected one of {allowed!r}, found {char or 'the end of the document'!r}")
        self.pos += 1
        return char

    def value(self) -> Any:
        """Decode the next whole value."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if self.eof:
                    raise ValueError(f"malformed JSON: {error}") from None
            else:
                # A number is only whole once a delimiter follows: "12" may go on as "12.5e3".
                whole = not isinstance(value, int | float) or self.text[end : end + 1] in _AFTER_NUMBER
                if (end < len(self.text) and whole) or self.eof:
                    self.pos = end
                    return value
            self._fill(at_least=len(self.text) - self.pos)  # doubles the window: linear in the value's size


def _walk(reader: _Reader, path: Sequence[str], placeholder: Any) -> Generator[Any, None, Any]:
    """Yield the items of the array at ``path``; return the value read, with ``placeholder`` for that array."""
    if not path:
        if reader.peek() != "[":
            return reader.value()  # null, or not an array: the caller judges it
        reader.take("[")
        if reader.peek() == "]":
            reader.take("]")
            return placeholder
        while True:
            yield reader.value()
            if reader.take(",]") == "]":
                return placeholder
    if reader.peek() != "{":
        return reader.value()
    reader.take("{")
    document: dict[str, Any] = {}
    if reader.peek() == "}":
        reader.take("}")
        return document
    while True:
        key = reader.value()
        if not isinstance(key, str):
            raise ValueError(f"object key {key!r} is not a string")
        reader.take(":")
        if key == path[0]:
            document[key] = yield from _walk(reader, path[1:], placeholder)
        else:
            document[key] = reader.value()
        if reader.take(",}") == "}":
            return document


def _document(stream: IO[bytes], path: Sequence[str], placeholder: Any = None) -> Generator[Any, None, Any]:
    reader = _Reader(stream)
    document = yield from _walk(reader, path, placeholder)
    if reader.peek():
        raise ValueError(f"extra data after the document: {reader.peek()!r}")
    return document


def iter_items(stream: IO[bytes], path: Sequence[str]) -> Iterator[Any]:
    """The items of the array at ``path`` (none when it is missing or not an array)."""
    yield from _document(stream, path)


class StreamedArray:
    """The items of a JSON array kept in a (temporary) file, read again at each iteration.

    Built by :func:`load`. :meth:`close` closes the file.
    """

    def __init__(self, stream: IO[bytes], path: Sequence[str]) -> None:
        self._stream = stream
        self._path = tuple(path)
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Any]:
        self._stream.seek(0)
        return iter_items(self._stream, self._path)

    def __repr__(self) -> str:
        return f"StreamedArray({'.'.join(self._path)}, {self._length} items)"

    def close(self) -> None:
        self._stream.close()


def load(stream: IO[bytes], path: Sequence[str]) -> Any:
    """Read and check the whole document in ``stream`` (seekable), keeping only the array at ``path``
    out of memory: the document comes back with a :class:`StreamedArray` in its place."""
    array = StreamedArray(stream, path)
    walker = _document(stream, path, placeholder=array)
    count = 0
    while True:
        try:
            next(walker)
        except StopIteration as done:
            array._length = count
            return done.value
        count += 1


async def askim(stream: IO[bytes], path: Sequence[str]) -> Any:
    """Read and check the whole document like :func:`load`, on an event loop: the items of the array
    at ``path`` are decoded one by one and dropped (the document holds ``None`` in their place), and
    the loop gets control back every few milliseconds, so a big body never blocks it for long."""
    walker = _document(stream, path, placeholder=None)
    slice_ends = time.monotonic() + _SLICE
    while True:
        try:
            next(walker)
        except StopIteration as done:
            return done.value
        if time.monotonic() >= slice_ends:
            await asyncio.sleep(0)
            slice_ends = time.monotonic() + _SLICE
