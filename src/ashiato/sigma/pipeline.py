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
    PROCESS_CREATION_4688,
    PROCESS_CREATION_ALTERNATIVES,
    RAW_PREFIX,
    SERVICES,
    canonical_field,
)


def _store_field(name: str | None) -> str:
    """Sigma field -> store field: a mapped column, or ``raw.<Name>`` (already mapped: kept)."""
    if name is None:  # keywords are not field-bound; never called for them
        return ""
    if name.startswith(RAW_PREFIX) or name in COLUMN_FIELDS.values():
        return name
    if name in COLUMN_FIELDS:
        return COLUMN_FIELDS[name]
    return RAW_PREFIX + canonical_field(name)


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
                    {"Channel": channels, "EventID": ids},  # type: ignore[dict-item]
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
                {"Channel": list(channels)}, name=f"ashiato_service_{service}"
            ),
            rule_conditions=[LogsourceCondition(service=service)],
        )
        for service, channels in SERVICES.items()
    ]


def store_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (pySigma pipelines keep per-rule state: never share one across threads)."""
    # One fact, two spellings (Sysmon 1 / Security 4688): COALESCE them, not OR, so that
    # ``null``, ``exists`` and ``not`` stay right on either event.
    alternatives = {
        name: RAW_PREFIX + ",".join(alts) for name, alts in PROCESS_CREATION_ALTERNATIVES.items()
    }
    items = [
        *_category_items(),
        *_service_items(),
        ProcessingItem(
            identifier="ashiato_process_creation_fields",
            transformation=FieldMappingTransformation(alternatives),  # type: ignore[arg-type]
            rule_conditions=[LogsourceCondition(category="process_creation")],
        ),
        ProcessingItem(
            identifier="ashiato_store_fields",
            transformation=FieldFunctionTransformation(mapping={}, transform_func=_store_field),
        ),
    ]
    return ProcessingPipeline(name="ashiato event store", priority=20, items=items)
