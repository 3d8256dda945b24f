"""The dependency rules of docs/architecture.md, read from every import statement (module level
and lazy ones inside functions, relative ones resolved):

* the engine core never imports a wing (``engine.training``, ``engine.serving``, ``engine.bulk``);
* the wings never import each other;
* ``engine`` imports neither ``dreamgym`` nor ``planners``;
* ``planners`` never imports ``dreamgym``, ``dreamgym`` never imports ``planners``;
* a world (``dreamgym.toyworld``, ``dreamgym.pusht``) imports neither the dream envs nor the
  evaluator (``dreamgym.dream_env``, ``dreamgym.vector_env``, ``dreamgym.wrappers``,
  ``dreamgym.evaluation``, the adapters).

Where a rule is bent on purpose, it is listed in ``ALLOWED`` with the reason.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WINGS = ("engine.training", "engine.serving", "engine.bulk")
WORLDS = ("dreamgym.toyworld", "dreamgym.pusht")
DREAM_SIDE = (
    "dreamgym.dream_env",
    "dreamgym.vector_env",
    "dreamgym.wrappers",
    "dreamgym.evaluation",
    "dreamgym.sb3",
    "dreamgym.lerobot",
    "dreamgym.cli",
)
# (importing module, imported module) pairs that bend a rule on purpose, with the reason.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a import b`` counts as both
    ``a`` and ``a.b``, since b may be a submodule)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def all_imports() -> dict[str, set[str]]:
    out = {}
    for package in ("engine", "dreamgym", "planners"):
        for path in sorted((ROOT / package).rglob("*.py")):
            out[module_name(path)] = imports_of(path)
    return out


def rule_breaks(imports: dict[str, set[str]]) -> list[str]:
    """Every (importer -> imported) pair that breaks a rule of the module docstring."""
    breaks = []
    for me, names in imports.items():
        for name in sorted(names):
            if (me, name) in ALLOWED:
                continue
            why = None
            if under(me, ("engine",)) and under(name, ("dreamgym", "planners")):
                why = "engine imports neither dreamgym nor planners"
            elif under(me, ("engine",)) and not under(me, WINGS) and under(name, WINGS):
                why = "the engine core never imports a wing"
            elif under(me, WINGS) and under(name, WINGS):
                mine = next(w for w in WINGS if under(me, (w,)))
                if not under(name, (mine,)):
                    why = "wings never import each other"
            elif under(me, ("planners",)) and under(name, ("dreamgym",)):
                why = "planners never imports dreamgym"
            elif under(me, ("dreamgym",)) and under(name, ("planners",)):
                why = "dreamgym never imports planners"
            elif under(me, WORLDS) and under(name, DREAM_SIDE):
                why = "a world imports neither the dream envs nor the evaluator"
            if why:
                breaks.append(f"{me} -> {name}: {why}")
    return breaks


def test_no_import_breaks_a_layering_rule():
    assert rule_breaks(all_imports()) == []


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("engine.engine", "engine.serving.app"),  # core -> wing
        ("engine.bulk.run", "engine.serving.codec"),  # wing -> wing
        ("engine.specs", "dreamgym"),
        ("planners.cem", "dreamgym.toyworld"),
        ("dreamgym.dream_env", "planners.scorers"),
        ("dreamgym.toyworld.zoo", "dreamgym.dream_env"),  # world -> dream env
        ("dreamgym.toyworld.zoo", "dreamgym.evaluation"),  # world -> evaluator
    ],
)
def test_each_rule_catches_its_break(importer, imported):
    assert len(rule_breaks({importer: {imported}})) == 1


def test_relative_imports_are_resolved(tmp_path):
    """``from ..serving import x`` inside engine/bulk reads as engine.serving (and .x)."""
    src = ROOT / "engine" / "bulk" / "_layering_probe.py"
    try:
        src.write_text("def f():\n    from ..serving import codec\n    from . import rows\n")
        found = imports_of(src)
    finally:
        src.unlink()
    assert {"engine.serving", "engine.serving.codec", "engine.bulk", "engine.bulk.rows"} <= found
