"""Avro records in the Confluent wire format, which the registry's serializers in every language
write: byte 0 is the magic byte 0, bytes 1-4 the schema's id (big-endian), then the Avro binary
body, which carries no field names and no schema. A reader needs the writer's schema (looked up
by id) and resolves it against its own reader schema. Not for talking to the registry (see
`registry`)."""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro

from helpers.orders import MalformedMessage

from .registry import Registry

MAGIC = 0


def encode(schema_id: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """`record` as Avro binary under `schema`, framed with the magic byte and `schema_id`."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return struct.pack(">bI", MAGIC, schema_id) + body.getvalue()


def header(value: bytes) -> tuple[int, int]:
    """(magic byte, schema id) of a framed value; a value too short or with another magic
    byte is not in this format (MalformedMessage: no retry will make it readable)."""
    if len(value) < 5 or value[0] != MAGIC:
        raise MalformedMessage(f"not a schema-registry framed value: {value[:5]!r}")
    magic, schema_id = struct.unpack(">bI", value[:5])
    return int(magic), int(schema_id)


def decode(
    value: bytes,
    registry: Registry,
    reader: dict[str, Any] | None = None,
    writers: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """The record in `value`, read with the writer's schema (fetched from `registry` by the id in
    the frame, kept in `writers` as a cache) resolved against `reader` (default: the writer's).
    A body that does not match the writer's schema raises (EOFError or ValueError)."""
    _, schema_id = header(value)
    cache = {} if writers is None else writers
    if schema_id not in cache:
        cache[schema_id] = fastavro.parse_schema(registry.schema(schema_id))
    parsed_reader = None if reader is None else fastavro.parse_schema(reader)
    record = fastavro.schemaless_reader(io.BytesIO(value[5:]), cache[schema_id], parsed_reader)
    assert isinstance(record, dict)  # the lab's schemas are records
    return record
