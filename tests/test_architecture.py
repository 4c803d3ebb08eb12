"""The house's rules (docs/ARCHITECTURE.md), read from the code with ast: imports run downhill only.

Every import inside src/rnnlab is followed, at the top of a module or inside a
function: a room may import the rooms below it (RANKS), never one on its own
floor or above; only kernels/switch.py opens kernels/fast/; nothing imports the
package face (`import rnnlab`, `from .. import x` resolving to rnnlab/__init__);
no module is its own ancestor through imports (no circle); no `importlib` call
loads one of the package's own modules by name.
"""

import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "rnnlab")

# the floors of the house, from the ground up: a room imports only rooms on lower floors
RANKS = {
    "checks": 0,
    "version": 0,
    "interrupts": 0,
    "initializers": 1,
    "kernels": 1,
    "tasks": 1,
    "data": 1,
    "nn": 2,
    "io": 3,
    "train": 4,
    "plots": 5,
    "probe": 5,
    "text": 5,
    "interop": 5,
    "experiments": 6,
    "explore": 6,
    "bench": 6,
    "lessons": 7,
    "cli": 8,
}


def _modules():
    """{dotted module name: (path, is_package)} of every module under src/rnnlab."""
    found = {}
    for root, _, files in os.walk(SRC):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, os.path.dirname(SRC))[:-3].replace(os.sep, ".")
                is_package = rel.endswith(".__init__")
                found[rel[:-9] if is_package else rel] = (path, is_package)
    return found


MODULES = _modules()


def _imports(module):
    """[(line, imported dotted name)] of every rnnlab import in a module, relative ones resolved."""
    path, is_package = MODULES[module]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "rnnlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.split(".")[0] == "rnnlab":
                target = node.module
            else:
                continue
            for alias in node.names:  # `from . import x` names a module when x is one
                name = f"{target}.{alias.name}"
                out.append((node.lineno, name if name in MODULES else target))
    return out


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package face, rnnlab/__init__.py


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in MODULES} - {None}
    assert rooms <= set(RANKS), f"rooms without a floor in RANKS: {sorted(rooms - set(RANKS))}"


def test_imports_run_downhill():
    bad = []
    for module in MODULES:
        room = _room(module)
        if room is None:
            continue  # the face hands names on
        for line, target in _imports(module):
            other = _room(target)
            if other is None:
                bad.append(f"{module}:{line} imports the package face ({target})")
            elif other != room and RANKS[other] >= RANKS[room]:
                bad.append(
                    f"{module}:{line} ({room}, floor {RANKS[room]}) imports {target} ({other}, floor {RANKS[other]})"
                )
    assert not bad, "\n".join(bad)


def test_only_the_switch_opens_the_fast_package():
    bad = [
        f"{module}:{line} imports {target}"
        for module in MODULES
        for line, target in _imports(module)
        if target.startswith("rnnlab.kernels.fast")
        and not module.startswith("rnnlab.kernels.fast")
        and module != "rnnlab.kernels.switch"
    ]
    assert not bad, "\n".join(bad)


def test_no_circles_between_modules():
    graph = {m: {t for _, t in _imports(m) if t in MODULES and t != m} for m in MODULES}
    # a package's face importing its own rooms is not a circle of the rooms, but a room importing its face is
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_no_module_loaded_by_name():
    bad = []
    for module, (path, _) in MODULES.items():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module",
                "__import__",
            ):
                arg = node.args[0] if node.args else None
                text = ast.unparse(arg) if arg is not None else ""
                if "rnnlab" in text or text.startswith(("f'.", 'f".', "'.", '".')) or "__name__" in text:
                    bad.append(f"{module}:{node.lineno} loads {text} by name")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("rule", ["downhill", "face", "fast", "circle"])
def test_the_checks_can_fail(rule, tmp_path, monkeypatch):
    """A room that breaks each rule is caught: the checks above are not vacuous."""
    bad = {
        "downhill": "from ..cli import main\n",
        "face": "import rnnlab\n",
        "fast": "from ..kernels.fast import ops\n",
        "circle": "from . import other\n",
    }
    room = tmp_path / "nn"
    room.mkdir()
    for name, text in (("__init__.py", ""), ("bad.py", bad[rule]), ("other.py", "from . import bad\n")):
        (room / name).write_text(text)
    empty = str(room / "__init__.py")
    modules = {
        "rnnlab": (empty, True),
        "rnnlab.nn": (empty, True),
        "rnnlab.nn.bad": (str(room / "bad.py"), False),
        "rnnlab.nn.other": (str(room / "other.py"), False),
        "rnnlab.cli": (empty, True),
        "rnnlab.kernels.fast.ops": (empty, False),
    }
    monkeypatch.setitem(globals(), "MODULES", modules)
    check = {
        "downhill": test_imports_run_downhill,
        "face": test_imports_run_downhill,
        "fast": test_only_the_switch_opens_the_fast_package,
        "circle": test_no_circles_between_modules,
    }[rule]
    with pytest.raises(AssertionError, match="rnnlab.nn.bad"):
        check()
