"""The pySigma processing pipeline that points Sigma's Windows vocabulary at the event store.

pySigma keeps pipelines (what a rule's words mean in *this* store) apart from backends (how to
write a query); we follow that split. The pipeline turns a logsource into conditions on the
channel and event id, and every field name into either a normalised column or a ``raw.<Name>``
key of the EventData map, which the DuckDB backend renders. Logsources and fields that the store
cannot hold are rejected earlier, with reasons (``fields.logsource_problem``/``field_problem``).
"""

from __future__ import annotations

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    FieldFunctionTransformation,
    FieldMappingTransformation,
)

from ashiato.sigma.fields import (
    CATEGORIES,
    COLUMN_FIELDS,
    DEFENDER_ALTERNATIVES,
    DEFENDER_SERVICE,
    PROCESS_CREATION_4688,
    PROCESS_CREATION_ALTERNATIVES,
    RAW_PREFIX,
    SERVICES,
    field_keys,
)

CHANNEL = RAW_PREFIX + "Channel"
"""A logsource's channel test reads the System channel itself: a rule's own ``Channel`` may mean
the log a 104 event cleared (``fields.FIELD_KEYS``)."""


def _store_field(name: str | None) -> str:
    """Sigma field -> store field: a mapped column, or ``raw.<Key>[,<Key>...]``: the keys to try
    in order (``fields.field_keys``; already mapped: kept)."""
    if name is None:  # keywords are not field-bound; never called for them
        return ""
    if name.startswith(RAW_PREFIX) or name in COLUMN_FIELDS.values():
        return name
    if name in COLUMN_FIELDS:
        return COLUMN_FIELDS[name]
    return RAW_PREFIX + ",".join(field_keys(name))


def _category_items() -> list[ProcessingItem]:
    items = []
    for category, (service, codes) in CATEGORIES.items():
        channels = list(SERVICES[service])
        ids: list[int] = list(codes)
        if category == "process_creation":
            channels += SERVICES[PROCESS_CREATION_4688[0]]
            ids.append(PROCESS_CREATION_4688[1])
        items.append(
            ProcessingItem(
                identifier=f"ashiato_category_{category}",
                transformation=AddConditionTransformation(
                    {CHANNEL: channels, "EventID": ids},  # type: ignore[dict-item]
                    name=f"ashiato_category_{category}",
                ),
                rule_conditions=[LogsourceCondition(category=category)],
            )
        )
    return items


def _service_items() -> list[ProcessingItem]:
    return [
        ProcessingItem(
            identifier=f"ashiato_service_{service}",
            transformation=AddConditionTransformation(
                {CHANNEL: list(channels)}, name=f"ashiato_service_{service}"
            ),
            rule_conditions=[LogsourceCondition(service=service)],
        )
        for service, channels in SERVICES.items()
    ]


def _mapping(alternatives: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Sigma field -> ``raw.<Key>,<Key>...``: one fact, several spellings, read with COALESCE."""
    return {name: RAW_PREFIX + ",".join(keys) for name, keys in alternatives.items()}


def store_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (pySigma pipelines keep per-rule state: never share one across threads)."""
    # One fact, two spellings (Sysmon 1 / Security 4688): COALESCE them, not OR, so that
    # ``null``, ``exists`` and ``not`` stay right on either event.
    alternatives = _mapping(PROCESS_CREATION_ALTERNATIVES)
    defender = _mapping(DEFENDER_ALTERNATIVES)
    items = [
        *_category_items(),
        *_service_items(),
        ProcessingItem(
            identifier="ashiato_process_creation_fields",
            transformation=FieldMappingTransformation(alternatives),  # type: ignore[arg-type]
            rule_conditions=[LogsourceCondition(category="process_creation")],
        ),
        ProcessingItem(
            identifier="ashiato_defender_fields",
            transformation=FieldMappingTransformation(defender),  # type: ignore[arg-type]
            rule_conditions=[LogsourceCondition(service=DEFENDER_SERVICE)],
        ),
        ProcessingItem(
            identifier="ashiato_store_fields",
            transformation=FieldFunctionTransformation(mapping={}, transform_func=_store_field),
        ),
    ]
    return ProcessingPipeline(name="ashiato event store", priority=20, items=items)
