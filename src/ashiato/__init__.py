"""ashiato (足跡, "footprints"): catch and investigate intruders who use valid credentials.

The public API; the CLI, the web app and the watcher are thin clients of these functions.
"""

from ashiato.detect.runner import DetectReport, detect
from ashiato.evaluate import Evaluation, evaluate
from ashiato.ingest import IngestReport, ingest
from ashiato.inventory import Inventory, load_inventory
from ashiato.investigate import Investigation, investigate
from ashiato.simulate import simulate
from ashiato.store import Store

__version__ = "0.1.0"

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
