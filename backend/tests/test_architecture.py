"""The back office's import graph keeps its layers: the contracts in pyproject.toml, checked by
import-linter. One test checks the code as it is; the others plant a wrong import in a copy of the
package and see the check refuse it, so a contract that checks nothing would fail here."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` run on the package under `root`, which it imports from there."""
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120)


def copy_with(tmp_path: Path, module: str, extra_line: str) -> Path:
    """A copy of the back office whose `module` (a path under backoffice/) gains `extra_line`."""
    root = tmp_path / "backend"
    shutil.copytree(BACKEND / "backoffice", root / "backoffice", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(BACKEND / "pyproject.toml", root / "pyproject.toml")
    target = root / "backoffice" / module
    target.write_text(target.read_text() + "\n" + extra_line + "\n")
    return root


def test_the_back_office_keeps_its_layers() -> None:
    result = lint_imports(BACKEND)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "wrong_import", "contract"), [
    # a lower feature reaching up to a higher one
    ("knowledge/rules.py", "from ..requests import rules as _up  # noqa", "Features and the core, top to bottom"),
    # the core reaching into a feature
    ("settings.py", "from .handoff import rules as _up  # noqa", "Features and the core, top to bottom"),
    # a feature's tables reaching up to its own service
    ("requests/tables.py", "from . import service as _up  # noqa", "One shape per feature"),
    # a rules module doing database work
    ("identity/rules.py", "import sqlalchemy as _db  # noqa", "The domain rules and the core are pure"),
])
def test_a_wrong_import_is_refused(tmp_path: Path, module: str, wrong_import: str, contract: str) -> None:
    result = lint_imports(copy_with(tmp_path, module, wrong_import))
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_a_module_outside_the_shape_is_refused(tmp_path: Path) -> None:
    root = copy_with(tmp_path, "handoff/rules.py", "")
    (root / "backoffice" / "handoff" / "helpers.py").write_text('"""A module no layer names."""\n')
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    assert "backoffice.handoff.helpers" in result.stdout, result.stdout
