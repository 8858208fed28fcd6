"""The same order events in three encodings, each measured: JSON text, Avro through
confluent-kafka's `AvroSerializer`, and Protobuf framed as confluent-kafka's Protobuf serializer
frames it (magic byte, schema id, the message's index in its .proto file, then the body). The
Protobuf message class is built from its descriptor, so no `protoc` step is needed; the same
message is registered in the registry as .proto text. Not for talking to the registry (see
`registry`) or for the Avro wire format itself (see `wire`)."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

# What the registry stores for the Protobuf order (the Avro one is notebook 15's v2).
ORDER_PROTO = """syntax = "proto3";
package lab;

message Order {
  string id = 1;
  double amount = 2;
  string currency = 3;
}
"""
_FIELDS = (("id", 1, "TYPE_STRING"), ("amount", 2, "TYPE_DOUBLE"), ("currency", 3, "TYPE_STRING"))


def order_message_class() -> type[Message]:
    """The class `protoc` would generate from ORDER_PROTO, built from the same descriptor."""
    field_type = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="lab/order.proto", package="lab", syntax="proto3"
    )
    order = file.message_type.add(name="Order")
    for name, number, kind in _FIELDS:
        order.field.add(
            name=name,
            number=number,
            type=getattr(field_type, kind),
            label=field_type.LABEL_OPTIONAL,
        )
    pool = descriptor_pool.DescriptorPool()  # its own pool: building it twice never collides
    pool.Add(file)
    found: type[Message] = message_factory.GetMessageClass(pool.FindMessageTypeByName("lab.Order"))
    return found


def protobuf_frame(schema_id: int, message: Message) -> bytes:
    """`message` as confluent-kafka's Protobuf serializer writes it: magic byte 0, the schema id
    (4 bytes, big-endian), the message's index path in its file (the first message: one 0 byte),
    then the Protobuf body."""
    body: bytes = message.SerializeToString()
    return struct.pack(">bI", 0, schema_id) + b"\x00" + body


@dataclass(frozen=True)
class Encoded:
    """One format's run over the same records: what it wrote, what it read back, and the CPU
    time (this process's, `time.process_time`) each direction took."""

    format: str
    values: list[bytes]
    decoded: list[dict[str, Any]]
    encode_cpu_s: float
    decode_cpu_s: float

    def row(self) -> dict[str, float | str]:
        count = len(self.values)
        return {
            "format": self.format,
            "mean_bytes": sum(map(len, self.values)) / count,
            "encode_us_per_record": 1e6 * self.encode_cpu_s / count,
            "decode_us_per_record": 1e6 * self.decode_cpu_s / count,
        }


def run_format(
    name: str,
    encode: Callable[[dict[str, Any]], bytes],
    decode: Callable[[bytes], dict[str, Any]],
    records: Sequence[dict[str, Any]],
) -> Encoded:
    """Encode every record, then decode every value, timing each pass in CPU seconds."""
    began = time.process_time()
    values = [encode(record) for record in records]
    encoded_at = time.process_time()
    decoded = [decode(value) for value in values]
    decoded_at = time.process_time()
    return Encoded(name, values, decoded, encoded_at - began, decoded_at - encoded_at)


def as_dict(message: Message) -> dict[str, Any]:
    """A message's fields by name (proto3 leaves unset ones at their zero value)."""
    return {field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields}
