"""A small client for a schema registry's Confluent-compatible REST API (register a schema under
a subject, set the subject's compatibility mode, test a candidate, look a schema up by its id).
Plain HTTP, so the notebook shows each request the registry answers. Not for the wire format
(see `wire`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MODES = ("BACKWARD", "FORWARD", "FULL", "NONE")


class RegistryError(RuntimeError):
    """The registry refused a request: its HTTP status and its own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the registry answered {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Attempt:
    """One registration attempt: the id given, or the registry's refusal."""

    accepted: bool
    schema_id: int | None
    status: int
    message: str


class Registry:
    """The registry at `url` (e.g. http://127.0.0.1:18081/apis/ccompat/v6)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": CONTENT_TYPE}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                message = str(json.loads(text).get("message", text))
            except ValueError:
                message = text
            raise RegistryError(exc.code, message) from None
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(
                0,
                f"no answer from {self.url} ({exc}); start it with "
                "services.ensure('apicurio-registry')",
            ) from None

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """Register `schema` under `subject` (a new version unless it is already there); its id.
        A schema the subject's compatibility mode refuses raises `RegistryError` (409)."""
        answer = self._call("POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)})
        return int(answer["id"])

    def attempt(self, subject: str, schema: dict[str, Any]) -> Attempt:
        """`register`, with a refusal returned instead of raised."""
        try:
            return Attempt(True, self.register(subject, schema), 200, "")
        except RegistryError as exc:
            return Attempt(False, None, exc.status, exc.message)

    def set_mode(self, subject: str, mode: str) -> str:
        """Set `subject`'s compatibility mode; the mode the registry then reports for it."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        try:
            self._call("PUT", f"/config/{subject}", {"compatibility": mode})
        except RegistryError as exc:
            # Apicurio keeps NONE as "no compatibility rule": setting it on a subject that has
            # none is answered 404, and the subject's mode, read back below, is NONE already.
            if not (mode == "NONE" and exc.status == 404):
                raise
        return self.mode(subject)

    def mode(self, subject: str) -> str:
        return str(self._call("GET", f"/config/{subject}")["compatibilityLevel"])

    def is_compatible(self, subject: str, schema: dict[str, Any]) -> bool:
        """Would `schema` be accepted as the next version of `subject`? (Registers nothing.)"""
        answer = self._call(
            "POST",
            f"/compatibility/subjects/{subject}/versions/latest",
            {"schema": json.dumps(schema)},
        )
        return bool(answer["is_compatible"])

    def schema(self, schema_id: int) -> dict[str, Any]:
        """The schema registered with `schema_id` (what a consumer looks up for each record)."""
        found: dict[str, Any] = json.loads(self._call("GET", f"/schemas/ids/{schema_id}")["schema"])
        return found

    def versions(self, subject: str) -> list[int]:
        return [int(v) for v in self._call("GET", f"/subjects/{subject}/versions")]

    def subjects(self) -> list[str]:
        return [str(s) for s in self._call("GET", "/subjects")]

    def version(self, subject: str, version: int) -> tuple[int, str, str]:
        """(schema id, schema type, schema text) of `subject`'s `version`: what a registry client
        fetches. The Confluent API leaves the type out for Avro."""
        answer = self._call("GET", f"/subjects/{subject}/versions/{version}")
        return int(answer["id"]), str(answer.get("schemaType", "AVRO")), str(answer["schema"])
