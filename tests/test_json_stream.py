"""The streaming JSON reader agrees with ``json.loads`` on every document, however the bytes are chunked."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_tasks import json_stream
from airflow_provider_tasks.json_stream import StreamedArray, iter_items, load

PATH = ("entries", "task_result")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)
documents = st.fixed_dictionaries(
    {"returns": json_values, "entries": st.fixed_dictionaries({"task_result": st.lists(json_values, max_size=30)})},
    optional={"after": json_values},
) | st.fixed_dictionaries({"entries": json_values})


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``size`` bytes per read, to split values and characters."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = io.BytesIO(data)
        self._size = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._data.read(self._size)


def _encode(document: Any, indent: int | None, ascii_only: bool) -> bytes:
    return json.dumps(document, indent=indent, ensure_ascii=ascii_only).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(1, 40), st.sampled_from([None, 2]), st.booleans())
def test_items_and_the_rest_match_json_loads(document, chunk, indent, ascii_only):
    body = _encode(document, indent, ascii_only)
    expected = json.loads(body)
    entries = expected.get("entries")
    array = entries.get("task_result") if isinstance(entries, dict) else None
    assert list(iter_items(Trickle(body, chunk), PATH)) == (array if isinstance(array, list) else [])
    rest = load(io.BytesIO(body), PATH)
    if isinstance(array, list):
        streamed = rest["entries"]["task_result"]
        assert isinstance(streamed, StreamedArray) and len(streamed) == len(array) and list(streamed) == array
        expected["entries"]["task_result"] = streamed
    assert rest == expected


@settings(max_examples=200, deadline=None)
@given(documents, st.data())
def test_cut_off_documents_are_refused(document, data):
    body = _encode(document, None, False)
    cut = data.draw(st.integers(1, len(body) - 1))
    try:
        json.loads(body[:cut])
    except ValueError:
        with pytest.raises(ValueError):
            load(Trickle(body[:cut], 7), PATH)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"entries": {"task_result": [1, 2,]}}', b'{"a": 1} {"b": 2}', b"{1: 2}", b'{"a" 1}', b"<html>"],
)
def test_malformed_documents_are_refused(body):
    with pytest.raises(ValueError):
        load(io.BytesIO(body), PATH)


def test_a_number_split_by_the_chunk_boundary_is_read_whole(monkeypatch):
    monkeypatch.setattr(json_stream, "_CHUNK", 4)
    body = b'{"entries": {"task_result": [123456789, 98765]}, "n": 1234567}'
    assert list(iter_items(io.BytesIO(body), PATH)) == [123456789, 98765]
    document = load(io.BytesIO(body), PATH)
    assert document["n"] == 1234567 and len(document["entries"]["task_result"]) == 2


def test_streamed_array_reads_the_file_again_at_each_iteration(tmp_path):
    rows = [{"id": str(n), "message": "سفارش ثبت شد", "is_success": n % 3 != 0} for n in range(1000)]
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"entries": {"task_result": rows}}, ensure_ascii=False), encoding="utf-8")
    handle = path.open("rb")
    array = load(handle, PATH)["entries"]["task_result"]
    assert len(array) == 1000 and "1000 items" in repr(array)
    assert list(array) == rows and list(array) == rows
    array.close()
    assert handle.closed
