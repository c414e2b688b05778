"""The layers stay apart: the live engine knows no feature, domain code loads no
Starlette. Each check imports in a fresh interpreter, so what the rest of the
suite has loaded cannot hide a dependency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURES = (
    "accounts",
    "admin",
    "api",
    "consultations",
    "documents",
    "forums",
    "legal",
    "meetings",
    "notifications",
)


def _loaded_after(modules: list[str]) -> list[str]:
    """The modules loaded by importing ``modules`` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def _modules(pattern: str) -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "collab").glob(pattern)
    )


def test_the_live_engine_imports_no_feature() -> None:
    engine = [m for m in _modules("realtime/*.py") if not m.endswith("__init__")]
    assert "collab.realtime.hub" in engine
    leaks = [
        name
        for name in _loaded_after(engine)
        if name.split(".")[:2] in (["collab", f] for f in FEATURES)
    ]
    assert leaks == [], f"collab/realtime/ loads feature modules: {leaks}"


@pytest.mark.parametrize("kind", ["actions", "queries", "models", "rules"])
def test_domain_code_loads_no_starlette(kind: str) -> None:
    modules = _modules(f"*/{kind}.py") + ([] if kind != "models" else ["collab.models"])
    assert modules, kind
    web = [n for n in _loaded_after(modules) if n.split(".")[0] == "starlette"]
    assert web == [], f"importing {modules} loads Starlette: {web}"
