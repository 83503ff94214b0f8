"""The file tree is the architecture: imports inside the package only point downwards."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinygrad_rnn"

# lower rank = closer to the engine; a module may import only from its own rank or below
RANKS = {
    "tensor": 0, "function": 0, "autograd": 0, "ops": 0, "methods": 0, "_validate": 0,
    "anomaly": 0, "profiler": 0,
    "_memory": 0, "parallel": 0, "replay": 0, "_blas": 0, "_promotion": 0,
    "compiled": 0,
    "gradcheck": 0,
    "nn": 1, "testing": 1, "debug": 1,
    "optim": 2,
    "data": 3,
    "models": 4, "train": 4, "callbacks": 4, "checkpoint": 4, "sample": 4, "_checks": 4,
    "cli": 5, "runs": 5, "__main__": 5,
}


def _part(module: str) -> str:
    """tinygrad_rnn.nn.cells -> 'nn'; tinygrad_rnn -> '' (the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tinygrad_rnn":
                for alias in node.names:  # "from tinygrad_rnn import tensor" names a module
                    yield node.lineno, f"tinygrad_rnn.{alias.name}"
            else:
                yield node.lineno, node.module


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name == "tinygrad_rnn.__init__":
            continue
        yield name.removesuffix(".__init__"), path


def test_every_module_has_a_rank():
    missing = sorted({_part(n) for n, _ in _modules()} - set(RANKS))
    assert not missing, f"give these package parts a rank in RANKS: {missing}"


@pytest.mark.parametrize("name,path", list(_modules()), ids=lambda v: str(v))
def test_imports_point_down(name, path):
    own = RANKS[_part(name)]
    for lineno, target in _imports(path):
        if not target.startswith("tinygrad_rnn.") or _part(target) not in RANKS:
            continue
        assert RANKS[_part(target)] <= own, (
            f"{path.name}:{lineno} imports {target} (rank {RANKS[_part(target)]}) from "
            f"{name} (rank {own}): imports must point towards the engine"
        )


def test_root_package_exports_only_the_engine():
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinygrad_rnn."):
            assert RANKS[_part(node.module)] == 0, f"__init__ imports {node.module} eagerly"
