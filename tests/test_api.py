"""Pin the public API: what `import ashiato` offers is a promise to scripts and the web app."""

from __future__ import annotations

import inspect

import ashiato


def test_exports_pinned() -> None:
    assert sorted(ashiato.__all__) == sorted(
        [
            "DetectReport",
            "Evaluation",
            "IngestReport",
            "Inventory",
            "Investigation",
            "Store",
            "__version__",
            "detect",
            "evaluate",
            "ingest",
            "investigate",
            "load_inventory",
            "simulate",
        ]
    )
    for name in ashiato.__all__:
        assert hasattr(ashiato, name)


def test_signatures_pinned() -> None:
    def params(f: object) -> list[str]:
        return list(inspect.signature(f).parameters)  # type: ignore[arg-type]

    assert params(ashiato.ingest)[:2] == ["paths", "store"]
    assert {"fmt", "workers", "progress"} <= set(params(ashiato.ingest))
    assert params(ashiato.detect)[:2] == ["store", "inventory"]
    assert params(ashiato.evaluate)[:2] == ["store", "truth"]
    assert params(ashiato.simulate)[0] == "out"
    assert params(ashiato.investigate) == ["store", "inventory", "kind", "id"]
    assert {"terminals", "days", "seed"} <= set(params(ashiato.simulate))
