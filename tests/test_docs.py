"""The documentation points only at what exists: every relative link in the READMEs and docs/ opens a
file of the repository (and a heading there, for a `#anchor`), and no docstring or comment of the
Python code names a file the repository does not hold. Pure: reads files, starts nothing."""
from __future__ import annotations

import ast
import importlib.util
import io
import re
import subprocess
import tokenize
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "backend/README.md", "companysystems/README.md",
             *sorted(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md"))]
PYTHON_FOLDERS = ["actions", "bench", "bot", "connectors", "scripts", "tests", "backend/backoffice", "backend/tests",
                  "companysystems/companysystems", "companysystems/tests", "chat-protocol/chatprotocol"]

LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A file named in a docstring or comment: a path or a bare name ending in .md, .py, .yml or .yaml.
NAMED_FILE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-][\w.-]*\.(?:md|py|ya?ml))(?![\w/-])")
# Rasa's own modules, which comments name to say what this code follows or works around: they are
# looked up in the installed packages instead.
OUTSIDE_PACKAGES = ("rasa/", "rasa_sdk/")


@cache
def repository_files() -> frozenset[str]:
    """Every file of the repository: tracked, or new and not ignored (paths relative to the root)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode()
    return frozenset(path for path in listed.split("\0") if path and (ROOT / path).exists())


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def links(text: str) -> list[str]:
    """The link targets of a markdown text, outside code blocks and inline code."""
    return LINK.findall(INLINE_CODE.sub("", FENCE.sub("", text)))


def broken_links(text: str, path: Path) -> list[str]:
    """The links of `text`, a markdown file at `path`, that open no file of the repository or no heading in it."""
    broken = []
    for target in links(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        relative = linked.relative_to(ROOT).as_posix() if linked.is_relative_to(ROOT) else ""
        folder = relative + "/"
        if not relative or not (relative in repository_files() or any(f.startswith(folder) for f in repository_files())):
            broken.append(f"{target}: no such file in the repository")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading '{anchor}' in {relative}")
    return broken


def test_the_documents_are_found():
    expected = {"README.md", "backend/README.md", "docs/architecture.md", "docs/configuration.md", "docs/integrating.md"}
    assert expected <= set(DOCUMENTS)
    assert all((ROOT / document).exists() for document in DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_relative_link_resolves(document):
    path = ROOT / document
    assert broken_links(path.read_text(), path) == []


def test_a_link_to_a_missing_file_or_heading_is_caught():
    text = ("[ok](docs/architecture.md) [ok](docs/architecture.md#the-processes) [ok](https://example.com/x.md) "
            "[gone](docs/nowhere.md) [gone](docs/architecture.md#no-such-heading) `[code](docs/nowhere.md)`")
    assert broken_links(text, ROOT / "README.md") == [
        "docs/nowhere.md: no such file in the repository",
        "docs/architecture.md#no-such-heading: no heading 'no-such-heading' in docs/architecture.md"]
    assert slug("A message's path: `Rasa` and [the actions](x.md)") == "a-messages-path-rasa-and-the-actions"


def comments_and_docstrings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python module."""
    found = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                found.append((body[0].lineno, body[0].value.value))
    return found


def exists(name: str, module: str) -> bool:
    """A file named from `module` exists: a path from the root, the module's folder or one of its
    parents, or the end of a repository path; a bare name, any file so named."""
    files = repository_files()
    if "/" not in name:
        return any(f == name or f.endswith("/" + name) for f in files)
    if name.startswith(OUTSIDE_PACKAGES):
        return installed(name)
    name = name.removeprefix("./")
    folder = Path(module).parent
    candidates = {name, *((folder / name).as_posix() for folder in [folder, *folder.parents])}
    return bool(candidates & files) or any(f.endswith("/" + name) for f in files) or any(
        f.startswith(c.rstrip("/") + "/") for c in candidates for f in files if name.endswith("/"))


def installed(name: str) -> bool:
    """A file of an installed package (Rasa's, in the assistant's environment)."""
    spec = importlib.util.find_spec(name.split("/")[0])
    return spec is not None and spec.origin is not None and (Path(spec.origin).parents[1] / name).exists()


def missing_files_named(module: str) -> list[str]:
    source = (ROOT / module).read_text()
    return [f"{module}:{line}: {name}" for line, text in comments_and_docstrings(source)
            for name in NAMED_FILE.findall(text) if not exists(name, module)]


def python_modules() -> list[str]:
    return sorted(f for f in repository_files() if f.endswith(".py") and any(f.startswith(p + "/") for p in PYTHON_FOLDERS))


def test_no_docstring_or_comment_names_a_file_that_is_not_in_the_repository():
    modules = python_modules()
    assert "actions/server.py" in modules and "backend/backoffice/settings.py" in modules
    assert [problem for module in modules for problem in missing_files_named(module)] == []


def test_a_missing_file_named_in_a_docstring_is_caught():
    source = '"""Why (DESIGN.md section 4; see docs/architecture.md and bot/endpoints.yml)."""\n# also docs/nowhere.md\n'
    named = [name for _, text in comments_and_docstrings(source) for name in NAMED_FILE.findall(text)]
    assert sorted(named) == ["DESIGN.md", "bot/endpoints.yml", "docs/architecture.md", "docs/nowhere.md"]
    assert sorted(name for name in named if not exists(name, "actions/server.py")) == ["DESIGN.md", "docs/nowhere.md"]
