"""AllowBatch's own decoding (items cut from the wire, a decoded item kept by its bytes) gives
exactly what upb's decoding of the whole batch and the unary RPC's validation give."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from rescp._proto import guard_pb2 as g
from rescp.errors import InvalidArgument, RescpError
from rescp.server.batch import (
    CACHE_LIMIT,
    MAX_FIELDS,
    UPB_BATCH_BYTES,
    AllowItems,
    _checked,
    _count_ok,
    item_wires,
)
from rescp.server.guard_codec import allow_args

names = st.sampled_from(["", "db", "api", "bad name!", "é" * 3, "x" * 200])
keys = st.one_of(st.sampled_from(["", "k", "user-1"]), st.text(max_size=300))
requests = st.builds(g.AllowRequest, breaker=names, limit=names, key=keys,
                     cost=st.integers(0, 2**32 - 1))
batches = st.lists(requests, max_size=30).map(lambda items: g.AllowBatchRequest(items=items))


def _comparable(answers: list[object]) -> list[object]:
    return [(type(a).__name__, str(a)) if isinstance(a, RescpError) else a for a in answers]


def _by_upb(raw: bytes) -> object:
    """The reference: upb decodes the batch, the unary RPC's code validates each item."""
    try:
        items = g.AllowBatchRequest.FromString(raw).items
        _count_ok(len(items))
    except (DecodeError, InvalidArgument) as error:
        return type(error).__name__
    return _comparable([_checked(allow_args, item) for item in items])


def _by_cut(decoder: AllowItems, raw: bytes) -> object:
    try:
        return _comparable(decoder.decode(raw))
    except (DecodeError, InvalidArgument) as error:
        return type(error).__name__


@settings(max_examples=300)
@given(batch=batches)
def test_cut_items_are_the_items_encodings(batch: g.AllowBatchRequest) -> None:
    assert item_wires(batch.SerializeToString()) == [i.SerializeToString() for i in batch.items]


@settings(max_examples=300)
@given(batch=batches)
def test_a_batch_decodes_as_upb_and_validation_decide_first_and_again(
        batch: g.AllowBatchRequest) -> None:
    raw, decoder = batch.SerializeToString(), AllowItems()
    expected = _by_upb(raw)
    assert _by_cut(decoder, raw) == expected
    assert _by_cut(decoder, raw) == expected  # now from what was kept


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


@st.composite
def fields(draw: st.DrawFn) -> bytes:
    """One field as a batch might carry it, well formed or not: a tag (an item's, another
    field's, a bad one), a length (right, overlong, wrong or huge) and a payload (an item's
    encoding or noise)."""
    tag = draw(st.sampled_from([  # items; other fields of every wire type, under short and
        b"\x0a", b"\x0a", b"\x0a", b"\x12", b"\x10", b"\x11", b"\x15", b"\x1b", b"\x1c",
        b"\x90\x01", b"\x90\x00", b"\x8a\x01", b"\x08", b"\x0b", b"\x0d", b"\x8a",  # long
        b"\x92\x80\x80\x80\x00", b"\x92\x80\x80\x80\x80\x00", b"\xf8\xff\xff\xff\x1f",
        b"\x00", b"\x02", b"\x16"]))  # tags; overlong ones; field 0, wire type 6
    payload = draw(st.one_of(requests.map(lambda r: r.SerializeToString()),
                             st.binary(max_size=12)))
    length = draw(st.sampled_from([
        _varint(len(payload)), bytes([len(payload) & 0x7F | 0x80, len(payload) >> 7]),
        _varint(len(payload) + 1), _varint(max(len(payload) - 1, 0)), b"\xff" * 10, b"\x80",
        bytes([len(payload) & 0x7F | 0x80]) + b"\x80\x80\x80\x00",  # 5 bytes: upb reads a length
        bytes([len(payload) & 0x7F | 0x80]) + b"\x80\x80\x80\x80\x00"]))  # in 5 at most
    return tag + length + payload


wires = st.one_of(st.binary(max_size=64), st.lists(fields(), max_size=6).map(b"".join),
                  st.tuples(st.lists(fields(), min_size=1, max_size=4).map(b"".join),
                            st.integers(1, 8)).map(lambda t: t[0][:-t[1]]))


@settings(max_examples=1000)
@given(raw=wires)
def test_any_bytes_decode_or_fail_as_upb_would(raw: bytes) -> None:
    """Random and malformed bytes: whatever upb makes of them, the cut path makes too."""
    decoder = AllowItems()
    expected = _by_upb(raw)
    assert _by_cut(decoder, raw) == expected
    assert _by_cut(decoder, raw) == expected


def test_an_unknown_field_or_a_long_item_goes_through_upb_and_decodes_alike() -> None:
    item = g.AllowRequest(breaker="db", key="k" * 300).SerializeToString()  # a 2-byte length
    unknown_item = g.AllowRequest(breaker="db").SerializeToString() + b"\x28\x01"  # field 5
    for raw in (b"\x0a" + bytes([0xAD, 0x02]) + item,
                b"\x0a" + bytes([len(unknown_item)]) + unknown_item,
                g.AllowBatchRequest(items=[g.AllowRequest(breaker="db")]).SerializeToString()
                + b"\x10\x07"):  # an unknown field 2 of the batch itself
        assert _by_cut(AllowItems(), raw) == _by_upb(raw)


def test_what_is_kept_is_bounded() -> None:
    decoder = AllowItems()
    for start in range(0, 3 * CACHE_LIMIT, 500):
        decoder.decode(g.AllowBatchRequest(items=[
            g.AllowRequest(breaker="db", key=f"user-{i}") for i in range(start, start + 500)]
        ).SerializeToString())
        assert len(decoder._by_wire) <= CACHE_LIMIT


def test_a_batch_is_read_no_further_than_its_field_bound() -> None:
    """Two million two-byte items (4 MB) are refused at the field after MAX_FIELDS, unread
    beyond: the cut alone would take a second of the loop, upb a sixth of one."""
    for raw in (b"\x0a\x00" * 2_000_000, b"\x10\x00" * 2_000_000):
        with pytest.raises(InvalidArgument, match=f"more than {MAX_FIELDS} fields"):
            AllowItems().decode(raw)
    assert len(AllowItems().decode(b"\x10\x00" * (MAX_FIELDS - 1000) + b"\x0a\x00" * 1000)) == 1000


def test_upb_decodes_only_a_small_batch_the_cut_does_not_read() -> None:
    group = b"\x1b\x1c"  # a group, field 3: upb keeps it as an unknown field
    small = group + b"\x0a\x00" * 1000
    assert item_wires(small) is None
    assert _by_cut(AllowItems(), small) == _by_upb(small)
    large = group + b"\x0a\x00" * 1000 + b"\x12" + _varint(UPB_BATCH_BYTES) + bytes(UPB_BATCH_BYTES)
    with pytest.raises(InvalidArgument, match="plainly encoded"):
        AllowItems().decode(large)


def test_a_varint_is_read_as_far_as_upb_reads_it_and_no_further() -> None:
    """A varint longer than upb reads goes to upb (which refuses it), read no further than its
    first bytes: summed to its end it took 0.4 s at 100 KB, the square of its length."""
    assert item_wires(b"\x10" + b"\x80" * 9 + b"\x00") == []  # a value: 10 bytes at most
    assert item_wires(b"\x10" + b"\x80" * 10 + b"\x00") is None
    assert item_wires(b"\x12" + b"\x80" * 4 + b"\x00") == []  # a length: 5 bytes at most
    assert item_wires(b"\x12" + b"\x80" * 5 + b"\x00") is None
    assert item_wires(b"\x0a" + b"\xff" * 100_000) is None
