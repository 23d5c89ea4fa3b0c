"""The house rules, read from the source (ARCHITECTURE.md lists them): a failing test names the import.

1. Only `app.web` (and `app/__init__.py`) imports Flask, werkzeug or click.
2. Each SDK is imported by its own adapter modules only (`openai` by the openai adapters,
   `anthropic` by the anthropic ones, `google.genai` by the gemini ones); their HTTP stack
   (`httpx2`, `httpcore2`) by the adapters and the shared cancellable transport.
3. The libraries (`conversation_manager`, `responses_client`, `stream_processor`, `compat`) never import
   `app`; `conversation_manager` and `responses_client` import no other package of ours;
   `stream_processor` imports `responses_client.events` only.
4. No module imports another module's private (`_`-prefixed) names.
5. No import circles between our modules (imports inside functions and under TYPE_CHECKING count).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "conversation_manager", "responses_client", "stream_processor", "compat")
SCRIPTS = ("migrate_threads.py",)
LIBRARIES = ("conversation_manager", "responses_client", "stream_processor", "compat")
WEB_ONLY = ("flask", "werkzeug", "click")
HTTP_OWNERS = (
    "responses_client.adapters.transport",
    "responses_client.adapters.http_errors",
    "responses_client.adapters.openai_",
    "responses_client.adapters.anthropic",
    "responses_client.adapters.gemini",
)
# SDK top-level package -> the module prefixes allowed to import it.
SDK_OWNERS = {
    "openai": ("responses_client.adapters.openai_",),
    # The HTTP stack under all three SDKs: the cancellable transport and the adapters that catch
    # its exceptions.
    "httpx2": HTTP_OWNERS,
    "httpcore2": HTTP_OWNERS,
    "anthropic": ("responses_client.adapters.anthropic",),
    "google": ("responses_client.adapters.gemini",),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (resolved, absolute)
    names: tuple[str, ...]  # names taken from it (`from target import a, b`)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))
    for script in SCRIPTS:
        yield ROOT / script


MODULES = {module_name(p): p for p in source_files()}


def resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, is_package, node.level, node.module)
            names = tuple(a.name for a in node.names)
            found.append(Import(module, target, names, node.lineno))
    return found


ALL_IMPORTS = [imp for mod, path in MODULES.items() for imp in imports_of(mod, path)]


def ours(target: str) -> bool:
    return target.split(".", maxsplit=1)[0] in PACKAGES or target in {s[:-3] for s in SCRIPTS}


def edges(imp: Import) -> list[str]:
    """The modules of ours an import depends on (`from pkg import submodule` is the submodule)."""
    if not ours(imp.target):
        return []
    out = []
    for name in imp.names or ("",):
        sub = f"{imp.target}.{name}" if name else imp.target
        out.append(sub if sub in MODULES else imp.target)
    return [m for m in out if m in MODULES]


def where(imp: Import) -> str:
    return f"{MODULES[imp.module].relative_to(ROOT)}:{imp.line} imports {imp.target}"


def test_the_rules_see_the_whole_house() -> None:
    assert {
        "app",
        "app.web",
        "conversation_manager",
        "responses_client",
        "stream_processor",
    } <= set(MODULES)
    assert len(ALL_IMPORTS) > 100


def test_only_the_web_layer_imports_flask() -> None:
    bad = [
        where(i)
        for i in ALL_IMPORTS
        if i.target.split(".")[0] in WEB_ONLY
        and not (i.module in {"app", "app.web"} or i.module.startswith("app.web."))
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("sdk", sorted(SDK_OWNERS))
def test_each_sdk_is_imported_by_its_adapter_only(sdk: str) -> None:
    owners = SDK_OWNERS[sdk]
    bad = [
        where(i)
        for i in ALL_IMPORTS
        if i.target.split(".")[0] == sdk and not i.module.startswith(owners)
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("library", LIBRARIES)
def test_libraries_never_import_the_app(library: str) -> None:
    bad = [
        where(i)
        for i in ALL_IMPORTS
        if i.module.split(".")[0] == library and i.target.split(".")[0] == "app"
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("library", ["conversation_manager", "responses_client"])
def test_base_libraries_import_nothing_else_of_ours(library: str) -> None:
    bad = [
        where(i)
        for i in ALL_IMPORTS
        if i.module.split(".")[0] == library
        and ours(i.target)
        and i.target.split(".")[0] != library
    ]
    assert not bad, "\n".join(bad)


def test_stream_processor_imports_only_the_neutral_events() -> None:
    bad = [
        where(i)
        for i in ALL_IMPORTS
        if i.module.split(".")[0] == "stream_processor"
        and ours(i.target)
        and i.target.split(".")[0] != "stream_processor"
        and i.target != "responses_client.events"
    ]
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_modules_private_names() -> None:
    bad = []
    for i in ALL_IMPORTS:
        if not ours(i.target) or i.target == i.module:
            continue
        private = [n for n in i.names if n.startswith("_") and not n.startswith("__")]
        if private or any(part.startswith("_") for part in i.target.split(".")):
            bad.append(f"{where(i)}: {', '.join(private) or i.target}")
    assert not bad, "\n".join(bad)


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in ALL_IMPORTS:
        for target in edges(imp):
            if target != imp.module:
                graph[imp.module].add(target)
    # A package's __init__ that re-exports its submodules is expected: a submodule importing its
    # own package's __init__ back is the circle we look for, so no edge is dropped.
    circles = strongly_connected(graph)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(sorted(c)) for c in circles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out
