"""JSON Schema of a protobuf message in its proto3 JSON form, for the OpenAPI document.

Generated from the descriptors, so the documented (and fuzzed) request bodies of the Connect
routes and of `POST /api/errors/report` follow the protos as they change. Parsers accept a
little more than documented (field names in snake_case as well, enum numbers, 64-bit integers as
numbers), as proto3 JSON allows.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

F = FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    F.TYPE_DOUBLE: {"type": "number"}, F.TYPE_FLOAT: {"type": "number"},
    F.TYPE_BOOL: {"type": "boolean"}, F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte"},
    F.TYPE_INT32: {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    F.TYPE_SINT32: {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    F.TYPE_UINT32: {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    F.TYPE_FIXED32: {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    F.TYPE_INT64: {"type": "string", "pattern": "^-?[0-9]{1,18}$"},
    F.TYPE_SINT64: {"type": "string", "pattern": "^-?[0-9]{1,18}$"},
    F.TYPE_UINT64: {"type": "string", "pattern": "^[0-9]{1,19}$"},
    F.TYPE_FIXED64: {"type": "string", "pattern": "^[0-9]{1,19}$"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Duration": {"type": "string", "pattern": "^[0-9]{1,9}(\\.[0-9]{1,9})?s$",
                                 "example": "1.5s"},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
}


def message_schema(descriptor: Descriptor | Any) -> dict[str, Any]:
    """The schema of a message (a Descriptor; upb's descriptors are typed apart)."""
    if descriptor.full_name in _WELL_KNOWN:
        return _WELL_KNOWN[descriptor.full_name]
    properties = {field.json_name: field_schema(field) for field in descriptor.fields}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def field_schema(field: FieldDescriptor) -> dict[str, Any]:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        return {"type": "object",
                "additionalProperties": field_schema(message.fields_by_name["value"])}
    single = _single(field)
    if field.is_repeated:
        return {"type": "array", "items": single}
    return single


def _single(field: FieldDescriptor) -> dict[str, Any]:
    if field.enum_type is not None:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if field.message_type is not None:
        return message_schema(field.message_type)
    return _SCALARS[field.type]
