"""The three kinds of test, as pytest markers every suite shares (`pytest_plugins` in each conftest).

- `unit`: pure code, no process, no database server, no browser; `make check` runs these.
- `stack`: starts processes (scripts/stack.py, a subprocess, a web server) or uses a database.
- `browser`: drives Chromium (Playwright); also a `stack` test.

The kind is read from what a test uses, never written by hand, so a new test cannot be filed under
the wrong one: its fixtures (with the fixtures those take; one of its own module counts as the
module) and the names its module imports. A test is `unit` only when nothing it uses can start a
process or reach a server.
"""
from __future__ import annotations

import types

import pytest

# Fixtures that are pure: pytest's own, and the knowledge base read from files.
PURE_FIXTURES = frozenset({
    "request", "tmp_path", "tmp_path_factory", "monkeypatch", "capsys", "capfd", "caplog", "recwarn",
    "pytestconfig", "cache", "record_property", "doctest_namespace", "pytester",
    "kb", "vocabulary", "published", "knowledge_copy",
})
# Modules whose objects, imported into a test module, reach outside the process.
OUTSIDE = ("stack", "subprocess", "multiprocessing", "playwright", "sqlalchemy", "httpx", "httpx2", "requests",
           "aiohttp", "socketio", "fastapi", "starlette", "redis", "psycopg", "sanic")
BROWSER = ("playwright",)


def _roots(module: types.ModuleType) -> set[str]:
    """The top-level packages of what `module` imported by name (`from x import y`, `import x`)."""
    roots = set()
    for value in vars(module).values():
        origin = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(origin, str):
            roots.add(origin.split(".")[0])
    return roots


def kind(item: pytest.Item) -> str:
    module = getattr(item, "module", None)
    roots = _roots(module) if module else set()
    callspec = getattr(item, "callspec", None)
    fixtures = set(getattr(item, "fixturenames", ())) - set(callspec.params if callspec else ())
    if roots & set(BROWSER) or {"browser", "page"} & fixtures:
        return "browser"
    # a fixture of the test's own module is as pure as that module's imports
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    here = getattr(module, "__name__", None)
    own = {name for name in fixtures if any(getattr(d.func, "__module__", None) == here for d in definitions.get(name, ()))}
    if roots & set(OUTSIDE) or not fixtures - own <= PURE_FIXTURES:
        return "stack"
    return "unit"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: pure code; no process, database server or browser (make check)")
    config.addinivalue_line("markers", "stack: starts processes or uses a database")
    config.addinivalue_line("markers", "browser: drives Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        found = kind(item)
        item.add_marker(found)
        if found == "browser":
            item.add_marker("stack")
