"""The OpenAPI document made strict, to hold answers and examples to it with no member more.

The document leaves object schemas open (a client generated today must accept a member added
tomorrow); the tests close them: every object schema that lists its properties and says nothing
of others gets ``additionalProperties: false``. Formats (date-time, date) are asserted too.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema_rs

JSON_MEDIA = ("application/json", "application/problem+json")


def closed(schema: Any) -> Any:
    """A deep copy of ``schema`` where every object listing its properties admits no other."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class StrictDocument:
    """Validators for the schemas of one OpenAPI document, closed as above."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = closed(copy.deepcopy(document.get("components", {})))
        self._templates = sorted(
            document["paths"], key=lambda path: (path.count("{"), path)
        )  # a literal path before one with a parameter in the same place
        self._patterns = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$"), path)
            for path in self._templates
        ]
        self._validators: dict[str, Any] = {}

    def validator(self, schema: dict[str, Any]) -> Any:
        key = repr(schema)
        if key not in self._validators:
            root = {**closed(schema), "components": self.components}
            self._validators[key] = jsonschema_rs.validator_for(root, validate_formats=True)
        return self._validators[key]

    def errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, e.instance_path)) or '(body)'}: {e.message}"
            for e in self.validator(schema).iter_errors(value)
        ]

    def template(self, path: str) -> str | None:
        """The documented path ``path`` is an instance of (``/v1/orders/{order_id}``)."""
        return next((t for pattern, t in self._patterns if pattern.match(path)), None)
