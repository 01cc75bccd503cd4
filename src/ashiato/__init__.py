"""ashiato (足跡, "footprints"): catch and investigate intruders who use valid credentials.

The public API; the CLI, the web app and the watcher are thin clients of these functions.

Every name is imported on first use (PEP 562): ``import ashiato`` costs nothing, and a command
loads only what it runs (the detectors load Ibis, the simulator NumPy, ...). Five public
functions share their name with the subpackage that defines them (``ashiato.detect``,
``evaluate``, ``ingest``, ``investigate``, ``simulate``); importing that subpackage would set the
package attribute to the module, so those five are properties of the package's module class,
which keep answering with the function, as the eager imports did before.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ashiato.detect.runner import DetectReport, detect
    from ashiato.evaluate import Evaluation, evaluate
    from ashiato.ingest import IngestReport, ingest
    from ashiato.inventory import Inventory, load_inventory
    from ashiato.investigate import Investigation, investigate
    from ashiato.simulate import simulate
    from ashiato.store import Store

__version__ = "0.1.0"

_SOURCES: dict[str, str] = {
    "DetectReport": "ashiato.detect.runner",
    "Evaluation": "ashiato.evaluate",
    "IngestReport": "ashiato.ingest",
    "Inventory": "ashiato.inventory",
    "Investigation": "ashiato.investigate",
    "Store": "ashiato.store",
    "detect": "ashiato.detect.runner",
    "evaluate": "ashiato.evaluate",
    "ingest": "ashiato.ingest",
    "investigate": "ashiato.investigate",
    "load_inventory": "ashiato.inventory",
    "simulate": "ashiato.simulate",
}
"""Where each public name is defined: imported from there on first access."""

__all__ = [
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


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    if name not in _SHADOWED:
        globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_SHADOWED = frozenset({"detect", "evaluate", "ingest", "investigate", "simulate"})
"""Public functions named like their subpackage (see the module docstring)."""


def _function_property(name: str) -> property:
    def get(_module: types.ModuleType) -> Any:
        return getattr(importlib.import_module(_SOURCES[name]), name)

    def set_(_module: types.ModuleType, _value: Any) -> None:
        """The import system records ``ashiato.<name>`` as the subpackage: keep the function."""

    return property(get, set_)


class _Package(types.ModuleType):
    """``ashiato``'s module type: the shadowed names are properties answering with functions."""


for _name in _SHADOWED:
    setattr(_Package, _name, _function_property(_name))
sys.modules[__name__].__class__ = _Package
