"""What an ingest command pays before it parses: workers forked, not started afresh, and no
pandas (pyarrow imports it on its first conversion of a list, to ask whether it is pandas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingest_samples import bulk_ecs


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_cli_forks_its_workers() -> None:
    """What the CLI imports before an ingest leaves forking safe: no thread, no DuckDB (a
    module-level import of either would quietly bring back the fork server's start-up)."""
    code = (
        "import ashiato.cli, importlib;"
        "p = importlib.import_module('ashiato.ingest.pipeline');"
        "print(p._pool_context().get_start_method())"
    )
    assert _python(code) == "fork"


def test_an_ingest_command_never_imports_pandas(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"win{i}.json").write_bytes(bulk_ecs(30, seed=i + 1))
    code = (
        "import sys\n"
        "from ashiato.cli import main\n"
        f"sys.argv = ['ashiato', 'ingest', {str(tmp_path)!r}, '--store', "
        f"{str(tmp_path / 'store')!r}, '--workers', '2']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('pandas' in sys.modules)\n"
    )
    assert _python(code).splitlines()[-1] == "False"
    assert len(list((tmp_path / "store" / "manifest").glob("*.parquet"))) == 3


def test_pyarrow_still_converts_pandas_after_the_probe_was_skipped() -> None:
    code = (
        "import sys, pyarrow as pa\n"
        "from ashiato.ingest.base import skip_pandas_probe\n"
        "skip_pandas_probe()\n"
        "assert 'pandas' not in sys.modules\n"
        "assert pa.array(['a', None]).to_pylist() == ['a', None]\n"
        "df = pa.table({'x': [1, 2]}).to_pandas()\n"
        "import pandas as pd\n"
        "cat = pa.array(pd.Series(['a', 'b', 'a'], dtype='category'))\n"
        "print(type(df).__name__, cat.type)\n"
    )
    assert _python(code).startswith("DataFrame dictionary<")  # categories stay categories
