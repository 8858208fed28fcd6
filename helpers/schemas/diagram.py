"""What the registry holds for some subjects, drawn from what it answers at that moment: each
subject with its compatibility mode and its versions (version number, schema id, field names),
beside the topic whose values it describes. Not for registering anything (see `registry`)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from helpers.diagrams.picture import CONTEXT, DONE, MEMBER, WAITING, Diagram, new_graph, table

from .registry import Registry

MODE_COLOURS = {"NONE": WAITING}  # no check at all stands out; every real rule looks the same


def describe(schema_type: str, text: str) -> str:
    """An Avro record's fields, `name=default` where it has one; another type by its name."""
    schema = json.loads(text) if schema_type == "AVRO" else None
    if not isinstance(schema, dict) or "fields" not in schema:
        return f"{schema_type} schema"
    names = [
        f"{f['name']}={f['default']}" if "default" in f else f["name"] for f in schema["fields"]
    ]
    return ", ".join(names)


def registry_picture(
    registry: Registry, subjects: Iterable[str], title: str = "What the registry holds"
) -> Diagram:
    graph = new_graph(title)
    graph.node(
        "registry", table([registry.url], header="schema registry", fill=MEMBER), shape="plaintext"
    )
    for index, subject in enumerate(subjects):
        mode = registry.mode(subject)
        rows: list[str | tuple[str, str]] = [
            (f"compatibility: {mode}", MODE_COLOURS.get(mode, DONE))
        ]
        for version in registry.versions(subject):
            schema_id, schema_type, text = registry.version(subject, version)
            rows.append((f"v{version} · id {schema_id} · {describe(schema_type, text)}", "white"))
        graph.node(f"subject-{index}", table(rows, header=subject), shape="plaintext")
        graph.edge("registry", f"subject-{index}")
        if subject.endswith("-value"):
            topic = subject.removesuffix("-value")
            graph.node(
                f"topic-{index}",
                table(
                    ["values: magic byte, schema id, body"], header=f"topic {topic}", fill=CONTEXT
                ),
                shape="plaintext",
            )
            graph.edge(f"subject-{index}", f"topic-{index}", label="ids in each value")
    return Diagram(graph, title)
