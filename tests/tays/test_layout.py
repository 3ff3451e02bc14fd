"""The dependency rule between the packages, checked on the source: carbs, scaling and recipes
import tays; tays imports none of them; carbs and scaling never import each other; scaling
never imports torch; recipes never import the optimiser; and tays loads without torch or Hydra.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "tays": ("carbs", "scaling", "recipes", "benchmarks", "hydra"),  # torch: only in a call
    "carbs": ("scaling", "recipes", "benchmarks"),
    "scaling": ("carbs", "recipes", "torch", "benchmarks"),
    "recipes": ("carbs", "scaling", "benchmarks"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_dependency_rule(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, bad


def test_tays_loads_without_torch_or_hydra():
    code = ("import sys, tays; print(sorted(m for m in ('torch', 'hydra', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.strip()
    assert out == "[]"
