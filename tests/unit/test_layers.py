"""The one-way dependency rule, checked on the source and by importing with packages blocked."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pdf_assets"
MODEL_LIBS = {"torch", "transformers", "onnxruntime", "rapidocr_onnxruntime", "torchvision"}


def _imports(path: Path) -> set[str]:
    """Top-level module names imported anywhere in the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(*layers: str) -> list[Path]:
    return [p for layer in layers for p in sorted((PACKAGE / layer).rglob("*.py"))]


@pytest.mark.parametrize("path", _modules("core", "stages", "storage"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_inner_layers_never_import_dagster(path: Path) -> None:
    assert not {n for n in _imports(path) if n.split(".")[0] == "dagster"}


@pytest.mark.parametrize("path", [p for p in PACKAGE.rglob("*.py") if "backends" not in p.parts], ids=str)
def test_only_backends_import_model_libraries(path: Path) -> None:
    assert not {n for n in _imports(path) if n.split(".")[0] in MODEL_LIBS}


@pytest.mark.parametrize(
    "path", _modules("core", "stages", "storage", "backends"), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_nothing_below_defs_imports_defs(path: Path) -> None:
    assert not {n for n in _imports(path) if n.startswith("pdf_assets.defs")}


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import pdf_assets.stages.pipeline, pdf_assets.core.batching, pdf_assets.backends.registry
import pdf_assets.stages.engine, pdf_assets.backends.embedded
print('ok')
"""


def test_inference_core_imports_without_dagster_or_torch() -> None:
    """The core + stages + embedded backends load on a machine with neither installed."""
    code = BLOCKER.format(blocked={"dagster", "torch", "transformers", "sqlalchemy"})
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("path", list(PACKAGE.rglob("*.py")), ids=str)
def test_modules_stay_reviewable(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 600


def _lint_imports() -> str:
    """The `lint-imports` of this interpreter's environment (the dev extra installs it)."""
    found = Path(sys.executable).parent / "lint-imports"
    if not found.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return str(found)


def test_import_contracts_hold() -> None:
    """The contracts in pyproject.toml: layers one way, no Dagster or model libraries inside."""
    result = subprocess.run([_lint_imports()], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_reversed_layer_contract_is_reported_broken(tmp_path: Path) -> None:
    """The checker bites: stages import the core, so a contract putting the core on top fails."""
    config = tmp_path / "reversed.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "pdf_assets"\n\n'
        '[[tool.importlinter.contracts]]\nname = "reversed"\ntype = "layers"\n'
        'layers = ["pdf_assets.core", "pdf_assets.stages"]\n'
    )
    command = [_lint_imports(), "--config", str(config)]
    result = subprocess.run(command, cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
