"""helpers.schemas against the real registry and broker: the wire format, the registry's
compatibility checks and refusals, and a consumer group outrun by retention; and the registry's
service (loopback only, its own storage)."""

import json
import time

import pika
import pytest
import redis
import yaml
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from helpers.kafka import flush_or_raise, producer
from helpers.naming import unique_name
from helpers.schemas import (
    LogRange,
    Registry,
    RegistryError,
    catch_up,
    commit_at,
    decode,
    encode,
    expiry,
    formats,
    header,
    log_range,
    set_topic_config,
    wait_for_log_start,
)
from helpers.schemas.diagram import registry_picture
from lab.brokers import services
from lab.brokers.config import TEMPLATES_DIR
from lab.brokers.docker import COMPOSE_FILE
from lab.brokers.services import apicurio_registry
from tests.conftest import free_port

V1 = {
    "type": "record",
    "name": "Order",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}],
}
V2 = {**V1, "fields": [*V1["fields"], {"name": "currency", "type": "string", "default": "EUR"}]}
NO_DEFAULT = {**V1, "fields": [*V1["fields"], {"name": "currency", "type": "string"}]}


@pytest.fixture(scope="module")
def registry() -> Registry:
    services.ensure("apicurio-registry")
    return Registry(apicurio_registry.CCOMPAT)


def test_the_registry_listens_on_loopback_only_and_keeps_its_own_storage():
    launch = apicurio_registry.SERVICE.launch()
    assert "-Dquarkus.http.host=127.0.0.1" in launch.command
    assert launch.env["HTTP_PORT"] == str(apicurio_registry.PORT)
    properties = TEMPLATES_DIR / "apicurio-registry" / "application.properties"
    text = properties.read_text()
    # no Kafka storage topic: it uses no topic another lesson could meet
    assert "kafkasql" not in text and "registry.storage.kind" not in text


def test_the_wire_format_is_magic_byte_schema_id_and_avro_body():
    value = encode(258, V1, {"id": "o-1", "amount": 1.5})
    assert value[:5] == b"\x00\x00\x00\x01\x02" and header(value) == (0, 258)
    with pytest.raises(ValueError, match="not a schema-registry framed value"):
        header(b"\x01" + value[1:])  # another magic byte
    with pytest.raises(ValueError, match="not a schema-registry framed value"):
        header(value[:4])


def test_an_unreachable_registry_is_named_with_the_fix():
    silent = Registry(f"http://127.0.0.1:{free_port()}/apis/ccompat/v6", timeout_s=2.0)
    began = time.monotonic()
    with pytest.raises(RegistryError, match="no answer from .*services.ensure"):
        silent.register("x-value", V1)
    assert time.monotonic() - began < 5.0


def test_backward_accepts_a_default_and_refuses_a_field_without_one(registry):
    subject = f"{unique_name('t-backward')}-value"
    first = registry.register(subject, V1)
    assert registry.set_mode(subject, "BACKWARD") == "BACKWARD"
    assert registry.is_compatible(subject, V2) and not registry.is_compatible(subject, NO_DEFAULT)
    refused = registry.attempt(subject, NO_DEFAULT)
    assert not refused.accepted and refused.status == 409 and "Incompatible" in refused.message
    second = registry.register(subject, V2)
    assert second != first and registry.versions(subject) == [1, 2]
    assert registry.schema(second) == V2


def test_none_accepts_what_backward_refuses(registry):
    subject = f"{unique_name('t-none')}-value"
    registry.register(subject, V1)
    assert registry.set_mode(subject, "NONE") == "NONE"
    assert registry.attempt(subject, NO_DEFAULT).accepted


def test_an_unknown_mode_is_refused_before_asking(registry):
    with pytest.raises(ValueError, match="is not one of BACKWARD"):
        registry.set_mode("x-value", "SIDEWAYS")


def test_readers_resolve_the_writers_schema_found_by_id(registry):
    subject = f"{unique_name('t-resolve')}-value"
    old_id, new_id = registry.register(subject, V1), registry.register(subject, V2)
    old = encode(old_id, V1, {"id": "o-1", "amount": 1.0})
    new = encode(new_id, V2, {"id": "o-2", "amount": 2.0, "currency": "USD"})
    assert decode(old, registry, reader=V2) == {"id": "o-1", "amount": 1.0, "currency": "EUR"}
    assert decode(new, registry, reader=V1) == {"id": "o-2", "amount": 2.0}
    with pytest.raises(EOFError):  # a v1 body framed with v2's id: the id is what tells them apart
        decode(new[:5] + old[5:], registry)


def test_a_group_outrun_by_retention_loses_exactly_what_lay_below_the_log_start(topics, kafka_ep):
    topic = topics.create(
        unique_name("t-retention"), config={"retention.ms": 7_200_000, "segment.ms": 60_000}
    )
    sink = producer(kafka_ep.url)
    for i in range(30):
        sink.produce(topic, str(i).encode(), timestamp=int((time.time() - 3600) * 1000))
    flush_or_raise(sink)
    behind, current = unique_name("t-behind"), unique_name("t-current")
    assert commit_at(behind, topic, 10, kafka_ep.url) == 10
    assert commit_at(current, topic, 30, kafka_ep.url) == 30
    sink.produce(topic, b"fresh")
    flush_or_raise(sink)
    assert log_range(topic, kafka_ep.url) == LogRange(0, 31)  # two hours' retention: all kept
    set_topic_config(topic, {"retention.ms": 60_000}, kafka_ep.url)
    after = wait_for_log_start([topic], past={topic: 0}, url=kafka_ep.url)[topic]
    assert (after.start, after.end) == (30, 31)
    earliest = catch_up(behind, topic, "earliest", kafka_ep.url)
    assert (earliest.first_offset, earliest.read, earliest.error) == (30, 1, "")
    assert "Offset out of range" in catch_up(behind, topic, "error", kafka_ep.url).error
    kept_up = catch_up(current, topic, "error", kafka_ep.url)
    assert (kept_up.first_offset, kept_up.read, kept_up.error) == (30, 1, "")


def test_nothing_deleted_is_reported_at_the_deadline(topics, kafka_ep):
    topic = topics.create(unique_name("t-kept"))
    assert log_range(topic, kafka_ep.url) == LogRange(0, 0)
    with pytest.raises(TimeoutError, match="retention deleted nothing within 1 s"):
        wait_for_log_start([topic], past={topic: 0}, url=kafka_ep.url, timeout_s=1.0)
    with pytest.raises(RuntimeError, match="read 0 of 5 records"):
        commit_at(unique_name("t-empty"), topic, 5, kafka_ep.url, timeout_s=2.0)


def test_librdkafka_knows_error_not_the_java_clients_none(topics, kafka_ep):
    topic = topics.create(unique_name("t-none-reset"))
    with pytest.raises(KafkaException, match='Invalid value "none"'):
        catch_up(unique_name("t-group"), topic, "none", kafka_ep.url)


def test_the_compose_registry_is_the_native_release_on_the_labs_loopback_port():
    service = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["apicurio-registry"]
    assert service["image"].endswith(f":{apicurio_registry.VERSION}")
    assert service["ports"] == [f"127.0.0.1:{apicurio_registry.PORT}:8080"]


def test_the_build_pins_the_release_the_service_reports():
    pom = (TEMPLATES_DIR / "apicurio-registry" / "pom.xml").read_text()
    assert f"<apicurio.version>{apicurio_registry.VERSION}</apicurio.version>" in pom
    properties = (TEMPLATES_DIR / "apicurio-registry" / "application.properties").read_text()
    assert f"registry.version={apicurio_registry.VERSION}" in properties


def test_confluent_kafkas_avro_serializer_writes_the_same_frame_and_is_refused_a_breaking_change(
    registry,
):
    topic = unique_name("t-client")
    subject, context = f"{topic}-value", SerializationContext(topic, MessageField.VALUE)
    v1_id = registry.register(subject, V1)
    registry.set_mode(subject, "BACKWARD")
    client = SchemaRegistryClient({"url": apicurio_registry.CCOMPAT})
    order = {"id": "o-1", "amount": 2.5}
    written = AvroSerializer(client, json.dumps(V1), conf={"auto.register.schemas": False})(
        order, context
    )
    assert written == encode(v1_id, V1, order)  # byte for byte what the lab's encoder writes
    assert AvroDeserializer(client, json.dumps(V2))(written, context) == {
        **order,
        "currency": "EUR",
    }
    with pytest.raises(SchemaRegistryError) as refused:
        AvroSerializer(client, json.dumps(NO_DEFAULT))({**order, "currency": "USD"}, context)
    assert refused.value.http_status_code == 409 and "Incompatible" in refused.value.error_message
    assert client.get_versions(subject) == [1]


ORDER_JSON_SCHEMA = {
    "type": "object",
    "title": "Order",
    "properties": {"id": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["id", "amount"],
    "additionalProperties": False,
}


def test_confluent_kafkas_json_serializer_frames_json_and_a_breaking_json_schema_is_refused():
    topic = unique_name("t-json")
    subject, context = f"{topic}-value", SerializationContext(topic, MessageField.VALUE)
    client = SchemaRegistryClient({"url": apicurio_registry.CCOMPAT})
    order = {"id": "o-1", "amount": 2.5}
    written = JSONSerializer(json.dumps(ORDER_JSON_SCHEMA), client)(order, context)
    v1 = client.get_latest_version(subject)
    assert v1.schema.schema_type == "JSON" and v1.version == 1
    assert written[:5] == b"\x00" + v1.schema_id.to_bytes(4, "big")  # magic byte, schema id
    assert json.loads(written[5:]) == order  # then the record as JSON text
    assert JSONDeserializer(None, schema_registry_client=client)(written, context) == order
    client.set_compatibility(subject, "BACKWARD")
    properties = {**ORDER_JSON_SCHEMA["properties"], "currency": {"type": "string"}}
    required = {**ORDER_JSON_SCHEMA, "properties": properties, "required": [*properties]}
    with pytest.raises(SchemaRegistryError) as refused:
        JSONSerializer(json.dumps(required), client)({**order, "currency": "EUR"}, context)
    assert refused.value.http_status_code == 409 and "Incompatible" in refused.value.error_message
    assert client.get_versions(subject) == [1]
    optional = {**ORDER_JSON_SCHEMA, "properties": properties}  # the negative case: accepted
    second = JSONSerializer(json.dumps(optional), client)({**order, "currency": "EUR"}, context)
    assert client.get_versions(subject) == [1, 2]
    assert second[1:5] == client.get_version(subject, 2).schema_id.to_bytes(4, "big")


def test_the_registry_build_is_keyed_on_its_recipe(tmp_path, monkeypatch):
    recipe = tmp_path / "apicurio-registry"
    recipe.mkdir()
    for name in apicurio_registry.RECIPE:
        (recipe / name).write_bytes((TEMPLATES_DIR / "apicurio-registry" / name).read_bytes())
    monkeypatch.setattr(apicurio_registry, "TEMPLATES_DIR", tmp_path)
    same = apicurio_registry.build_dir()
    (recipe / "pom.xml").write_text((recipe / "pom.xml").read_text().replace("1.14.0", "1.14.1"))
    assert apicurio_registry.build_dir() != same  # a changed pom gets a build of its own
    monkeypatch.undo()
    assert apicurio_registry.build_dir() == same


def test_only_the_builds_of_other_recipes_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(apicurio_registry, "cache_dir", lambda: tmp_path)
    version = apicurio_registry.VERSION
    names = [f"apicurio-registry-{version}", f"apicurio-registry-{version}-0123456789ab"]
    names += [apicurio_registry.build_dir().name, ".apicurio-scratch", "apicurio-registry-9.9"]
    for name in names:
        (tmp_path / name).mkdir()
    apicurio_registry._remove_stale_builds()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted(names[2:])  # the current build, a build under way, another version


def test_the_protobuf_frame_is_what_confluent_kafkas_deserializer_reads():
    order_class = formats.order_message_class()
    value = formats.protobuf_frame(7, order_class(id="o-1", amount=2.5, currency="USD"))
    assert value[:6] == b"\x00\x00\x00\x00\x07\x00"  # magic, id 7, message index 0
    context = SerializationContext("t", MessageField.VALUE)
    read = formats.as_dict(ProtobufDeserializer(order_class)(value, context))
    assert read == {"id": "o-1", "amount": 2.5, "currency": "USD"}
    assert formats.as_dict(ProtobufDeserializer(order_class)(value[:5] + b"\x00", context)) == {
        "id": "",
        "amount": 0.0,
        "currency": "",
    }  # an empty body is every field at its zero value, not an error


def test_the_registry_picture_follows_the_registry(registry):
    subject = f"{unique_name('t-picture')}-value"
    registry.register(subject, V1)
    registry.set_mode(subject, "BACKWARD")

    def label() -> str:
        source = registry_picture(registry, [subject]).source
        return next(line for line in source.splitlines() if f"<B>{subject}<" in line)

    first = label()
    assert "compatibility: BACKWARD" in first and "v1 · id" in first and "v2 ·" not in first
    registry.register(subject, V2)
    registry.set_mode(subject, "NONE")
    second = label()
    assert "compatibility: NONE" in second and "v2 · id" in second and "currency=EUR" in second


@pytest.mark.parametrize(
    ("arguments", "consumed", "refused", "dead_lettered"),
    [
        ({"x-max-length": 3}, [7, 8, 9], [], {"maxlen": 7}),
        ({"x-max-length": 3, "x-overflow": "reject-publish"}, [0, 1, 2], list(range(3, 10)), {}),
        ({"x-message-ttl": 100}, [], [], {"expired": 10}),
    ],
)
def test_a_bounded_queue_takes_from_a_consumer_that_fell_behind_only(
    rabbitmq_ep, arguments, consumed, refused, dead_lettered
):
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_ep.url))
    try:
        channel = connection.channel()
        behind = expiry.run_queue(channel, unique_name("t-bound"), arguments, 10, keep_up=False)
        kept_up = expiry.run_queue(channel, unique_name("t-bound"), arguments, 10, keep_up=True)
    finally:
        connection.close()
    assert (behind.consumed, behind.refused, behind.dead_lettered) == (
        consumed,
        refused,
        dead_lettered,
    )
    assert kept_up.consumed == list(range(10)) and kept_up.lost == [] and not kept_up.dead_lettered


def test_stream_trimming_ignores_groups_and_their_lag_counts_what_was_trimmed(redis_ep):
    client = redis.Redis.from_url(redis_ep.url)
    stream = unique_name("t-trim")
    try:
        run = expiry.run_stream(client, stream, 20, 5, 5, maxlen=10, approximate=False)
    finally:
        client.delete(stream)
    assert run.length == 10 and run.entries_added == 25
    assert run.lost("behind") == list(range(5, 15)) and run.lost("current") == []
    assert run.lag_before_catching_up == {"behind": 20, "current": 5}
