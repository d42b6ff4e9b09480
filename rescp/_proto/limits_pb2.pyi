from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
TEXT_LIMIT_FIELD_NUMBER: _ClassVar[int]
text_limit: _descriptor.FieldDescriptor

class TextLimit(_message.Message):
    __slots__ = ("max_chars", "max_entries", "max_key_chars", "max_total_chars")
    MAX_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_KEY_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_CHARS_FIELD_NUMBER: _ClassVar[int]
    max_chars: int
    max_entries: int
    max_key_chars: int
    max_total_chars: int
    def __init__(self, max_chars: _Optional[int] = ..., max_entries: _Optional[int] = ..., max_key_chars: _Optional[int] = ..., max_total_chars: _Optional[int] = ...) -> None: ...
