"""The schema registry: one name, one type, everywhere; every field documented."""

from __future__ import annotations

import pyarrow as pa

from ashiato.events import SCHEMAS, EventKind, field_doc
from ashiato.inventory.resolve import ACCOUNT, ENDPOINT


def test_one_name_one_type() -> None:
    seen: dict[str, pa.DataType] = {}
    for schema in [*SCHEMAS.values(), ENDPOINT, ACCOUNT]:
        for f in schema:
            if f.name in seen:
                assert seen[f.name] == f.type, f"{f.name}: {seen[f.name]} vs {f.type}"
            seen[f.name] = f.type


def test_every_field_documented() -> None:
    for name, schema in SCHEMAS.items():
        assert schema.metadata and schema.metadata.get(b"doc"), name
        for f in schema:
            assert field_doc(schema, f.name), f"{name}.{f.name} has no doc"


def test_event_kinds_are_lower_snake() -> None:
    for k in EventKind:
        assert k.value == k.value.lower() and " " not in k.value
