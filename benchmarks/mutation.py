"""Mutation testing of the decision modules with mutmut; writes benchmarks/MUTATION.md and benchmarks/mutation.json.

mutmut names a mutant after its file's path, and its tests must import the mutated copy. The shared package lives
in ``layers/failover/python`` (the Lambda layer's layout), so the run happens in a workspace, ``build/mutation``,
where the package sits under ``src/`` and everything else the unit tests read is linked in. The fast tests
(``tests/unit``) are the ones run: a mutant killed here is killed by ``make test-unit``.

    python -m benchmarks.mutation                 # every decision module
    python -m benchmarks.mutation 'failover_controller.detect.*'   # one module (mutmut's glob on names)
    python -m benchmarks.mutation --report-only   # rewrite the report from the last run
    python -m benchmarks.mutation --keep 'failover_controller.detect.*'   # rerun a module after adding tests

Equivalent mutants (no test can tell them from the original) are listed with their reason in
``benchmarks/mutation_equivalent.json``, keyed by the mutant's function and its changed line, so that the list
survives edits elsewhere in the module.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "layers" / "failover" / "python" / "failover_controller"
WORKSPACE = ROOT / "build" / "mutation"
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.json"
REPORT_MD = ROOT / "benchmarks" / "MUTATION.md"
REPORT_JSON = ROOT / "benchmarks" / "mutation.json"
GOAL = 0.85

# The decision logic: Detect, plan validation, the lock and run records, every step, compensation, readiness
# verdicts and the guards the steps share. Plumbing (clients, logging, the CLI) is not mutated.
DECISION_MODULES = [
    "detect.py",
    "plan.py",
    "schema.py",
    "ledger.py",
    "bookkeeping.py",
    "run_context.py",
    "guards.py",
    "changes.py",
    "readiness.py",
    "prewarm.py",
    "reads/dns.py",
    "checks/*.py",
    "steps/*.py",
]
# What the unit tests read besides the package: linked into the workspace, copied by mutmut into mutants/.
LINKED = [
    "cli",
    "tests",
    "plans",
    "events",
    "statemachines",
    "functions",
    "template.yaml",
    "docs",
    "samconfig.toml",
    "benchmarks",  # the drill's time-scaled world reads dependency_timings.json
]
# Tests of the repository's shape, not of behaviour: they read files mutmut does not copy, and kill nothing.
IGNORED_TESTS = ["tests/unit/test_structure.py", "tests/unit/test_template.py"]

# mutmut's exit codes per mutant (mutmut/__main__.py, status_by_exit_code).
KILLED = {1, 3, -24, 24, 152, 255, 36, 37}  # test failed, timeout, or caught by the type checker
SURVIVED = {0, 5}
NO_TESTS = {33}


def _pyproject() -> str:
    only = ", ".join(f'"src/failover_controller/{m}"' for m in DECISION_MODULES)
    ignored = ", ".join(f'"--ignore={t}"' for t in IGNORED_TESTS)
    also = ", ".join(f'"{name}"' for name in LINKED)
    return f"""[tool.mutmut]
source_paths = ["src/failover_controller"]
only_mutate = [{only}]
do_not_mutate = ["*/__init__.py"]
also_copy = [{also}]
pytest_add_cli_args_test_selection = ["tests/unit", {ignored}]
pytest_add_cli_args = ["-p", "no:cacheprovider"]
do_not_mutate_patterns = ['logger[.]', 'metrics[.]add_metric']
mutate_only_covered_lines = false
use_git_change_detection = false

[tool.pytest.ini_options]
pythonpath = ["cli", "."]
addopts = "--strict-markers"
markers = ["emulator: runs against the shared ministack + moto_server emulators"]
"""


def prepare() -> None:
    """A fresh workspace: the package under src/ (copied), everything else linked."""
    if WORKSPACE.exists():
        shutil.rmtree(WORKSPACE)
    WORKSPACE.mkdir(parents=True)
    shutil.copytree(PACKAGE, WORKSPACE / "src" / "failover_controller", ignore=shutil.ignore_patterns("__pycache__"))
    _link()


def _link() -> None:
    """Everything the unit tests read besides the package, linked in (missing links only), and the config."""
    for name in LINKED:
        if not (WORKSPACE / name).is_symlink():
            (WORKSPACE / name).parent.mkdir(parents=True, exist_ok=True)
            (WORKSPACE / name).symlink_to(ROOT / name)
    (WORKSPACE / "pyproject.toml").write_text(_pyproject())


def sync() -> list[str]:
    """Bring the workspace's copy of the package up to date (for --keep); returns the files that changed.

    A changed file gets a new modification time, so mutmut regenerates its mutants and forgets the results of the
    functions whose source changed; the results of every other function are kept."""
    _link()
    copy = WORKSPACE / "src" / "failover_controller"
    changed = []
    for source in sorted(PACKAGE.rglob("*.py")):
        target = copy / source.relative_to(PACKAGE)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            changed.append(str(source.relative_to(PACKAGE)))
    for stale in sorted(copy.rglob("*.py")):
        if not (PACKAGE / stale.relative_to(copy)).exists():
            stale.unlink()
            changed.append(str(stale.relative_to(copy)))
    # The package's data (the plan's schema): mutmut does not mutate it, and the mutants read their own copy.
    for data in sorted(p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")):
        for root in (copy, WORKSPACE / "mutants" / "src" / "failover_controller"):
            target = root / data.relative_to(PACKAGE)
            if target.parent.exists() and (not target.exists() or target.read_bytes() != data.read_bytes()):
                shutil.copyfile(data, target)
                changed.append(f"{data.relative_to(PACKAGE)} (data)")
    return changed


def run_mutmut(names: list[str], jobs: int | None) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    cmd = [sys.executable, "-m", "mutmut", "run", *names]
    if jobs:
        cmd += ["--max-children", str(jobs)]
    return subprocess.call(cmd, cwd=WORKSPACE, env=env)


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
wanted = json.load(sys.stdin)
json.dump({name: get_diff_for_mutant(name, path=path) for name, path in wanted.items()}, sys.stdout)
"""


def _diffs(paths: dict[str, str]) -> dict[str, str]:
    """Each mutant's diff against the original (mutmut's own rendering), in one process."""
    if not paths:
        return {}
    out = subprocess.run(
        [sys.executable, "-c", _DIFFS],
        cwd=WORKSPACE,
        input=json.dumps(paths),
        capture_output=True,
        text=True,
        check=True,
    )
    diffs: dict[str, str] = json.loads(out.stdout)
    return diffs


def _changed_line(diff: str) -> str:
    """The mutant's new line(s), or the line it removed: with the function, what names it across edits."""
    lines = diff.splitlines()
    added = [line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")]
    removed = [line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")]
    return " / ".join(added) if added else "removed " + " / ".join(removed)


def _function(name: str) -> str:
    module, _, mangled = name.rpartition(".")
    function = re.sub(r"__mutmut_\d+$", "", mangled).removeprefix("x_").removeprefix("xǁ").replace("ǁ", ".")
    return f"{module}.{function}"


def _results() -> dict[str, tuple[int | None, str]]:
    """Each mutant's exit code and the source path mutmut knows it by."""
    found: dict[str, tuple[int | None, str]] = {}
    mutants = WORKSPACE / "mutants"
    for meta in (mutants / "src").rglob("*.py.meta"):
        path = str(meta.relative_to(mutants)).removesuffix(".meta")
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = (code, path)
    return found


def _module(name: str) -> str:
    module = name.rpartition(".")[0]
    return module.removeprefix("failover_controller.")


def report() -> dict[str, Any]:
    equivalent: dict[str, str] = json.loads(EQUIVALENT_FILE.read_text()) if EQUIVALENT_FILE.exists() else {}
    results = _results()
    per_module: dict[str, Counter[str]] = {}
    open_ones: dict[str, str] = {}
    for name, (code, path) in sorted(results.items()):
        counts = per_module.setdefault(_module(name), Counter())
        if code in KILLED:
            counts["killed"] += 1
        elif code is None:
            counts["not_run"] += 1
        else:
            open_ones[name] = path
    diffs = _diffs(open_ones)
    survivors: dict[str, list[dict[str, str]]] = {}
    used_equivalents: set[str] = set()
    for name in open_ones:
        counts = per_module[_module(name)]
        key = f"{_function(name)}: {_changed_line(diffs[name])}"
        if key in equivalent:
            counts["equivalent"] += 1
            used_equivalents.add(key)
            continue
        counts["no_tests" if results[name][0] in NO_TESTS else "survived"] += 1
        survivors.setdefault(_module(name), []).append({"mutant": name, "key": key})
    judged = {_module(name) for name, (code, _) in results.items() if code is not None}
    stale = sorted(
        k for k in set(equivalent) - used_equivalents if any(k.startswith(f"failover_controller.{m}.") for m in judged)
    )
    return {"per_module": per_module, "survivors": survivors, "equivalent": equivalent, "stale": stale}


def _judged(c: Counter[str]) -> int:
    return c["killed"] + c["survived"] + c["no_tests"] + c["equivalent"]


def _score(c: Counter[str]) -> float:
    judged = c["killed"] + c["survived"] + c["no_tests"]
    return c["killed"] / judged if judged else 1.0


def _earlier(judged: set[str]) -> dict[str, Counter[str]]:
    """The modules an earlier run judged and this one did not (a run of some modules keeps the others' results)."""
    if not REPORT_JSON.exists():
        return {}
    found: dict[str, dict[str, int]] = json.loads(REPORT_JSON.read_text())
    return {
        m: Counter({"killed": c["killed"], "survived": c["survived"], "equivalent": c["equivalent"]})
        for m, c in found.items()
        if m not in judged
    }


def write(result: dict[str, Any], command: str) -> None:
    modules = dict(sorted(result["per_module"].items()))
    kept = _earlier({m for m, c in modules.items() if _judged(c)})
    modules = dict(sorted((modules | kept).items()))
    data = {
        m: {"killed": c["killed"], "survived": c["survived"] + c["no_tests"], "equivalent": c["equivalent"]}
        | ({"not_run": c["not_run"]} if c["not_run"] else {})
        for m, c in modules.items()
        if _judged(c)
    }
    REPORT_JSON.write_text(json.dumps(data, indent=2) + "\n")
    total: Counter[str] = sum(modules.values(), Counter())
    lines = [
        "# Mutation score of the decision modules",
        "",
        f"Produced by `{command}` (mutmut, the unit tests only: `tests/unit`). Score = killed / (killed + survived);",
        f"equivalent mutants (listed, with the reason, in `benchmarks/mutation_equivalent.json`) are left out. Goal: "
        f"{GOAL:.0%} in every module.",
        "",
        "| module | killed | survived | equivalent | not run | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m, c in modules.items():
        if not _judged(c):
            lines.append(f"| `{m}` | | | | {c['not_run']} | not run |")
            continue
        mark = "" if _score(c) >= GOAL else " **below goal**"
        mark += " (partial)" if c["not_run"] else ""
        mark += " (an earlier run)" if m in kept else ""
        survived = c["survived"] + c["no_tests"]
        lines.append(
            f"| `{m}` | {c['killed']} | {survived} | {c['equivalent']} | {c['not_run']} | {_score(c):.1%}{mark} |"
        )
    survived_total = total["survived"] + total["no_tests"]
    lines.append(
        f"| **all** | {total['killed']} | {survived_total} | {total['equivalent']} | {total['not_run']} | "
        f"{_score(total):.1%} |"
    )
    lines += ["", "## Surviving mutants", ""]
    if not result["survivors"]:
        lines.append("None.")
    for m, items in sorted(result["survivors"].items()):
        lines += [f"### `{m}`", ""]
        for item in items:
            lines += [f"- `{item['mutant']}`: `{item['key']}`"]
        lines.append("")
    if result["stale"]:
        lines += ["", "## Equivalent entries that matched no mutant (stale)", ""]
        lines += [f"- `{k}`" for k in result["stale"]]
    REPORT_MD.write_text("\n".join(lines).rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mutants", nargs="*", help="mutmut name globs (default: every decision module)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last run")
    parser.add_argument("--jobs", type=int, default=None, help="parallel mutants (default: one per core)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="rerun the named mutants in the last run's workspace with the current tests and source (a function "
        "whose source changed is mutated again); the other modules keep their results",
    )
    args = parser.parse_args(argv)
    if args.keep and not args.mutants:
        parser.error("--keep reruns named mutants only")
    if not args.report_only:
        if args.keep:
            for name in sync():
                print(f"changed since the last run: {name} (its changed functions are mutated again)")
            (WORKSPACE / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)  # the tests changed: map them again
        else:
            prepare()
        code = run_mutmut(args.mutants, args.jobs)
        if code != 0:
            print(f"mutmut exited with {code}", file=sys.stderr)
            return code
    result = report()
    names = " ".join(f"'{m}'" for m in args.mutants)
    previous = re.search(r"Produced by `(.+)` \(mutmut", REPORT_MD.read_text()) if REPORT_MD.exists() else None
    if args.report_only and previous:
        command = previous.group(1)  # the run the results come from
    elif args.keep:
        command = f"make mutation`, then `python -m benchmarks.mutation --keep {names}"
    else:
        command = "make mutation" + (f" MUTANTS={names}" if args.mutants else "")
    write(result, command)
    below = {m: _score(c) for m, c in result["per_module"].items() if _judged(c) and _score(c) < GOAL}
    print(REPORT_MD.read_text())
    if below:
        print("below the goal: " + ", ".join(f"{m} {s:.1%}" for m, s in sorted(below.items())), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
