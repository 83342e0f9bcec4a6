"""Rules of the code that a reviewer would otherwise have to remember (docs/architecture.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60
SOURCES = [p for folder in ("engine", "cli") for p in sorted((ROOT / folder).rglob("*.py"))]


def _long_functions(path: Path) -> list[str]:
    """Functions over MAX_LINES lines without a ``# long: reason`` comment right above them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if length > MAX_LINES and not re.match(r"#\s*long:\s*\S", above):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_long_without_a_reason():
    assert [f for path in SOURCES for f in _long_functions(path)] == []


def test_the_length_rule_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    plain = tmp_path / "plain.py"
    plain.write_text(f"def f():\n{body}\n")
    explained = tmp_path / "explained.py"
    explained.write_text(f"# long: one table of constants\ndef f():\n{body}\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _long_functions(plain) == ["plain.py:1 f (61 lines)"]
        assert _long_functions(explained) == []
    finally:
        ROOT = saved


def test_no_broad_except_hides_a_bug():
    # A bug of merit's own must show its traceback and exit 1: catch what is expected, by type.
    broad = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler):
                names = [node.type] if not isinstance(node.type, ast.Tuple) else list(node.type.elts)
                if node.type is None or any(isinstance(n, ast.Name) and n.id in ("Exception", "BaseException")
                                            and not _reraises(node) for n in names):
                    broad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert broad == []


def _reraises(handler: ast.ExceptHandler) -> bool:
    """A handler that cleans up and re-raises hides nothing."""
    return bool(handler.body) and isinstance(handler.body[-1], ast.Raise) and handler.body[-1].exc is None
