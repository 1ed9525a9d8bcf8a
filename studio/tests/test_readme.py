"""README.md stays true: every environment variable the code reads is in its configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
SKIPPED_DIRS = {".venv", "var", "node_modules", ".git"}
# Set by tools, not by people deploying the studio.
NOT_CONFIGURATION = {"PYTEST_XDIST_WORKER", "CI"}
READ = re.compile(
    r"""(?:env_(?:str|bool|int|list)\(\s*|os\.environ(?:\.get|\.setdefault|\.pop)?\(\s*|os\.environ\[\s*|os\.getenv\(\s*)"""
    r"""["']([A-Z][A-Z0-9_]+)["']"""
)


def variables_read_by_the_code() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in BASE_DIR.rglob("*.py"):
        relative = path.relative_to(BASE_DIR)
        if SKIPPED_DIRS & set(relative.parts) or "tests" in relative.parts:
            continue
        for name in READ.findall(path.read_text(errors="replace")):
            found.setdefault(name, relative)
    return found


def readme_table_variables() -> set[str]:
    text = (BASE_DIR / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.MULTILINE))


def test_the_scan_finds_the_core_settings() -> None:
    found = variables_read_by_the_code()
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "JWT_ACCESS_MINUTES", "PORT"} <= set(found)


def test_every_environment_variable_read_is_documented_in_the_readme() -> None:
    documented = readme_table_variables()
    missing = {
        name: str(path)
        for name, path in variables_read_by_the_code().items()
        if name not in documented and name not in NOT_CONFIGURATION
    }
    assert not missing, f"Add these to README.md's Configuration table: {missing}"


def test_the_readme_documents_no_variable_that_nothing_reads() -> None:
    stale = readme_table_variables() - set(variables_read_by_the_code())
    assert not stale, f"README.md documents variables nothing reads: {sorted(stale)}"


def test_quick_start_is_exactly_make_run_and_make_test() -> None:
    text = (BASE_DIR / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick_start, re.DOTALL)
    assert commands == ["make run", "make test"]
