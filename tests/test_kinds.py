"""The markers of scripts/kinds.py: a test that can reach outside its process is never `unit`."""
import pytest

pytest_plugins = ["pytester"]

PURE = """
import pytest

@pytest.fixture
def numbers():
    return [1, 2]

@pytest.mark.parametrize("n", [1, 2])
def test_pure(numbers, n, tmp_path):
    assert n in numbers
"""


@pytest.mark.parametrize(("source", "kind"), [
    (PURE, "unit"),
    ("import subprocess\ndef test_runs():\n    subprocess.run(['true'])\n", "stack"),
    ("from stack import Stack\ndef test_starts():\n    assert Stack\n", "stack"),
    ("import requests\ndef test_calls():\n    assert requests\n", "stack"),
    ("def test_needs(assistant):\n    pass\n", "stack"),
    ("from playwright.sync_api import sync_playwright\ndef test_browses():\n    assert sync_playwright\n", "browser"),
])
def test_the_kind_follows_what_a_test_uses(pytester, source, kind):
    pytester.makeconftest('pytest_plugins = ["kinds"]\nimport pytest\n@pytest.fixture\ndef assistant():\n    yield\n')
    pytester.makepyfile(test_it=source)
    for marker in ("unit", "stack", "browser"):
        found = pytester.runpytest("-q", "--co", "-m", marker, "-p", "no:cacheprovider")
        selected = found.ret == 0
        assert selected == (marker == kind or (kind == "browser" and marker == "stack")), (marker, found.outlines)
