"""The package's layering, held: reads read, checks judge, changes act, steps compose; no step imports another."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "failover" / "python" / "failover_controller"
SHARED_STEP_MODULES = {"failover_controller.steps.base", "failover_controller.steps.registry"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def step_modules() -> list[Path]:
    return [p for p in (PACKAGE / "steps").glob("*.py") if p.stem not in {"__init__", "base", "registry"}]


def test_no_step_module_imports_another_step_module() -> None:
    assert len(step_modules()) == 7
    for path in step_modules():
        own = f"failover_controller.steps.{path.stem}"
        others = {
            i
            for i in imports_of(path)
            if i.startswith("failover_controller.steps.") and not i.startswith((own, *SHARED_STEP_MODULES))
        }
        assert others == set(), f"{path.stem} imports {sorted(others)}"


def test_the_read_layer_imports_no_step_and_no_check() -> None:
    for path in (PACKAGE / "reads").glob("*.py"):
        imported = imports_of(path)
        assert not {i for i in imported if i.startswith(("failover_controller.steps", "failover_controller.checks"))}, (
            path
        )


def test_no_product_function_is_over_60_lines() -> None:
    root = PACKAGE.parents[3]
    long = []
    for folder in ("layers", "functions", "cli"):
        for path in (root / folder).rglob("*.py"):
            functions = [
                node
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            long += [
                f"{path.relative_to(root)}:{f.lineno} {f.name}"
                for f in functions
                if (f.end_lineno or f.lineno) - f.lineno + 1 > 60
            ]
    assert long == []


def test_test_helpers_come_from_tests_support_not_from_test_modules() -> None:
    root = PACKAGE.parents[3]
    forbidden = ("tests.unit", "tests.emulator", "tests.drill", "tests.conftest", "tests.statemachine.conftest")
    wrong = [
        f"{path.relative_to(root)} imports {name}"
        for folder in ("tests", "benchmarks")
        for path in (root / folder).rglob("*.py")
        for name in imports_of(path)
        if name.startswith(forbidden)
    ]
    assert wrong == []


def test_only_the_cli_entry_point_imports_the_drill() -> None:
    cli = PACKAGE.parents[3] / "cli" / "failoverctl"
    importers = sorted(
        str(path.relative_to(cli))
        for path in cli.rglob("*.py")
        if "drill" not in path.relative_to(cli).parts[:-1]
        and any(name.startswith("failoverctl.drill") for name in imports_of(path))
    )
    assert importers == ["__main__.py"]
