"""A module says why it exists; the routes and their answers are in the OpenAPI document (and the
README), not copied into docstrings, where they went stale."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import backoffice

ROUTE_LINE = re.compile(r"^\s*[-*]?\s*`(GET|POST|PUT|PATCH|DELETE) /", re.MULTILINE)


def test_no_module_docstring_restates_the_api():
    package = Path(backoffice.__file__).parent
    listing = {}
    for module in package.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(module.read_text())) or ""
        if len(ROUTE_LINE.findall(doc)) >= 2:
            listing[str(module.relative_to(package))] = ROUTE_LINE.findall(doc)
    assert listing == {}
