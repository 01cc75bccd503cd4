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


def _run_python(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def test_import_is_lazy() -> None:
    """`import ashiato` loads none of the heavy libraries: each command loads what it runs."""
    out = _run_python(
        "import sys, ashiato\n"
        "heavy = ('ibis', 'pandas', 'pyarrow', 'duckdb', 'numpy', 'pydantic', 'ashiato.ingest')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_every_export_imports_by_name_whatever_was_imported_first() -> None:
    """`from ashiato import X` for every X, also after importing the subpackages named like the
    functions (which sets the package attribute to the module: the function must still win)."""
    first = (
        "import ashiato.detect.runner, ashiato.ingest.pipeline, ashiato.simulate.core, "
        "ashiato.investigate, ashiato.evaluate\n"
    )
    for before in ("", first):
        code = before + "import ashiato\n"
        for name in ashiato.__all__:
            code += (
                f"from ashiato import {name}\n"
                f"print({name!r}, type({name}).__name__, {name} is getattr(ashiato, {name!r}))\n"
            )
        got = {n: (kind, same) for n, kind, same in map(str.split, _run_python(code).splitlines())}
        assert set(got) == set(ashiato.__all__)
        assert all(same == "True" for _, same in got.values()), got
        for name in ("detect", "evaluate", "ingest", "investigate", "simulate"):
            assert got[name][0] == "function", (name, before)
