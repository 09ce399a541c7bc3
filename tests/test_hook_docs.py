"""The plugin contract is documented and tested mechanically (as datasette does).

- Every hook in ``wandbkit.hookspecs`` has a heading in ``docs/plugins.md`` whose text is its
  exact signature: ``### wandbkit_register_sinks(register, run)`` (parameter names in order).
- Every documented heading names a hook that exists, with the right signature.
- The example in each hook's section is valid Python that implements that hook with
  parameter names taken from the spec, and ``firstresult`` hooks say so.
- The heading's parameters are those of the spec's real signature (``inspect.signature`` of the
  function in ``hookspecs.py``), and the spec's docstring documents each of them
  (``:param name:``) and no other.
- Every hook has a test: a function named ``test_hook_<name>`` (or ``test_hook_<name>_...``)
  in a module under ``tests/``, where ``<name>`` is the hook's name WITHOUT the ``wandbkit_``
  prefix (``test_hook_register_sinks`` for ``wandbkit_register_sinks``), and every such test
  reaches the hook through its real caller: it never calls the hook machinery (``call_each``,
  ``collect``, ``pm.hook.wandbkit_...``), an implementation (``wandbkit_...(...)``) or what a
  plugin registered (``panel.build(...)``, ``check.fn(...)``) itself.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from pathlib import Path

import pytest

from wandbkit import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "plugins.md"
TESTS = ROOT / "tests"
PREFIX = "wandbkit_"


def hook_specs() -> dict[str, inspect.Signature]:
    """Every hook spec in ``wandbkit.hookspecs``: name -> signature."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return {name: inspect.signature(fn) for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, marker)}


def spec_text(name: str) -> str:
    """``wandbkit_register_sinks(register, run)``: the heading a hook must have."""
    return f"{name}({', '.join(hook_specs()[name].parameters)})"


def strip_code(markdown: str) -> str:
    """The markdown without fenced code blocks (a ``# comment`` in code is not a heading)."""
    return re.sub(r"^```.*?^```[ \t]*$", "", markdown, flags=re.M | re.S)


def doc_headings() -> list[str]:
    """The text of every markdown heading in docs/plugins.md, outside code blocks."""
    return [m.group(1).strip().strip("`")
            for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", strip_code(DOCS.read_text()), re.M)]


def doc_section(name: str) -> str:
    """The text from a hook's heading to the next heading of the same or a higher level."""
    text = DOCS.read_text()
    match = re.search(rf"^(#+)\s+`?{re.escape(spec_text(name))}`?\s*$", text, re.M)
    assert match, f"no heading for {name}"
    level = len(match.group(1))
    rest = text[match.end():]
    outside = strip_code(rest)
    nxt = re.search(rf"^#{{1,{level}}}\s", outside, re.M)
    if nxt is None:
        return rest
    # Map the end back into ``rest``: find the same heading line in the raw text.
    heading_line = outside[nxt.start():].splitlines()[0]
    return rest[:rest.index("\n" + heading_line) + 1]


@functools.cache
def all_test_functions() -> dict[str, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every top-level test function under tests/: name -> (file, node)."""
    out: dict[str, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[node.name] = (str(path.relative_to(ROOT)), node)
    return out


def hook_test_names() -> frozenset[str]:
    """Names of every test function defined in a module under tests/."""
    return frozenset(all_test_functions())


# Calling these from a hook test means the test plays the caller itself.
MACHINERY = {"call_each", "collect"}
REGISTERED_CALLABLES = {"build", "fn", "function"}  # Panel.build, SmokeCheck.fn, HookImpl.function


def self_driven_calls(node: ast.AST) -> list[str]:
    """Calls in a test body that drive a hook by hand instead of through its real caller."""
    found = []
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Name) and (func.id in MACHINERY or func.id.startswith(PREFIX)):
            found.append(f"{func.id}(...) at line {call.lineno}")
        elif isinstance(func, ast.Attribute) and (
                func.attr.startswith(PREFIX) or func.attr in REGISTERED_CALLABLES
                or func.attr in MACHINERY):
            found.append(f"{ast.unparse(func)}(...) at line {call.lineno}")
    return found


def test_hookspecs_found() -> None:
    """The collection above sees the hooks (a renamed marker would make every test vacuous)."""
    specs = hook_specs()
    assert len(specs) >= 10, sorted(specs)
    assert "wandbkit_register_sinks" in specs
    assert all(name.startswith(PREFIX) for name in specs), sorted(specs)


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_is_documented(name: str) -> None:
    """docs/plugins.md has a heading with the hook's exact signature."""
    expected = spec_text(name)
    headings = doc_headings()
    near = [h for h in headings if h.startswith(name + "(") or h == name]
    assert expected in headings, (
        f"docs/plugins.md has no heading `### {expected}`"
        + (f" (found {near}: parameter names must match hookspecs.py, in order)" if near else ""))


def test_documented_hooks_exist() -> None:
    """No heading documents a hook that is gone or was renamed."""
    specs = {spec_text(name) for name in hook_specs()}
    documented = [h for h in doc_headings() if h.startswith(PREFIX)]
    stale = [h for h in documented if h not in specs]
    assert not stale, f"docs/plugins.md documents hooks not in hookspecs.py: {stale}"
    assert len(documented) == len(set(documented)), "a hook is documented twice"


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_example_implements_hook(name: str) -> None:
    """The hook's section has a Python example that compiles and implements it correctly."""
    section = doc_section(name)
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.M | re.S)
    assert blocks, f"docs/plugins.md: the section of {name} has no ```python example"
    allowed = list(hook_specs()[name].parameters)
    found = False
    for block in blocks:
        tree = ast.parse(block, filename=f"docs/plugins.md#{name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == name:
                found = True
                args = [a.arg for a in node.args.args if a.arg != "self"]
                assert all(a in allowed for a in args), (
                    f"example of {name} takes {args}; the spec's parameters are {allowed}")
                assert args == [a for a in allowed if a in args], (
                    f"example of {name} takes {args} out of the spec's order {allowed}")
                decorators = [ast.unparse(d) for d in node.decorator_list]
                assert any(d.startswith("hookimpl") for d in decorators), (
                    f"example of {name} is not decorated with @hookimpl")
    assert found, f"no example in the section of {name} defines `def {name}(...)`"


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_firstresult_is_documented(name: str) -> None:
    """Each section says whether the hook is firstresult, and says it right."""
    opts = getattr(getattr(hookspecs, name), f"{hookspecs.hookspec.project_name}_spec")
    line = next((ln for ln in doc_section(name).splitlines() if "firstresult:" in ln), None)
    assert line is not None, f"the section of {name} has no '**firstresult:** yes/no' line"
    said = re.search(r"firstresult:\**\s*\**(yes|no)", line)
    assert said, f"the firstresult line of {name} says neither yes nor no: {line!r}"
    assert (said.group(1) == "yes") == bool(opts.get("firstresult")), (
        f"docs say firstresult {said.group(1)} for {name}; hookspecs.py says "
        f"{bool(opts.get('firstresult'))}")


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_spec_documents_each_parameter(name: str) -> None:
    """The spec's docstring has one ``:param x:`` per parameter of its real signature."""
    fn = getattr(hookspecs, name)
    documented = re.findall(r":param (\w+):", inspect.getdoc(fn) or "")
    assert documented == list(hook_specs()[name].parameters), (
        f"hookspecs.{name} documents {documented}; its signature is {hook_specs()[name]}")


def test_self_driven_calls_are_found() -> None:
    """The check below catches what it claims to (else it could never fail)."""
    sample = ast.parse(
        "def test_hook_x(panels, pm):\n"
        "    call_each('wandbkit_run_synced', record=None, store_dir=None)\n"
        "    panels[0].build({})\n"
        "    pm.hook.wandbkit_run_started(run=None)\n"
        "    wandbkit.init(project='p').finish()\n")
    found = self_driven_calls(sample)
    assert [f.split("(")[0] for f in found] == ["call_each", "panels[0].build",
                                                "pm.hook.wandbkit_run_started"]


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_tests_use_the_real_caller(name: str) -> None:
    """Every ``test_hook_<name>*`` reaches the hook through the code that calls it for users."""
    wanted = f"test_hook_{name.removeprefix(PREFIX)}"
    for test, (path, node) in all_test_functions().items():
        if test == wanted or test.startswith(wanted + "_"):
            bad = self_driven_calls(node)
            assert not bad, f"{path}::{test} drives the hook itself: {', '.join(bad)}"


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_has_test(name: str) -> None:
    """Some module under tests/ has ``test_hook_<name without wandbkit_>`` (or ``..._<suffix>``)."""
    short = name.removeprefix(PREFIX)
    wanted = f"test_hook_{short}"
    tests = hook_test_names()
    assert any(t == wanted or t.startswith(wanted + "_") for t in tests), (
        f"no test function {wanted}() under tests/ for the hook {name}")
