"""The dependency direction of DESIGN.md section 1, read from every import statement (module
level and lazy ones inside functions): planners and dreamgym import engine; engine imports
neither; dreamgym never imports planners, planners never imports dreamgym."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(package: str) -> dict[str, set[str]]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize(
    "package, forbidden",
    [("engine", {"dreamgym", "planners"}), ("dreamgym", {"planners"}), ("planners", {"dreamgym"})],
)
def test_packages_import_in_one_direction(package, forbidden):
    offenders = {f: sorted(names & forbidden) for f, names in imported_packages(package).items() if names & forbidden}
    assert offenders == {}, f"{package} must not import {sorted(forbidden)}"
