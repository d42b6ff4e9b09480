"""AllowBatch's own decoding (items cut from the wire, a decoded item kept by its bytes) gives
exactly what upb's decoding of the whole batch and the unary RPC's validation give."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from rescp._proto import guard_pb2 as g
from rescp.errors import InvalidArgument, RescpError
from rescp.server.batch import CACHE_LIMIT, AllowItems, _checked, _count_ok, item_wires
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
    tag = draw(st.sampled_from([0x0A, 0x0A, 0x0A, 0x12, 0x08, 0x0B, 0x0D, 0x8A, 0x00]))
    payload = draw(st.one_of(requests.map(lambda r: r.SerializeToString()),
                             st.binary(max_size=12)))
    length = draw(st.sampled_from([
        _varint(len(payload)), bytes([len(payload) & 0x7F | 0x80, len(payload) >> 7]),
        _varint(len(payload) + 1), _varint(max(len(payload) - 1, 0)), b"\xff" * 10, b"\x80"]))
    return bytes([tag]) + length + payload


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
