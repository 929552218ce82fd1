"""docs/python.md's five-minute example and the README's Python block, run
as written against the test's dev node, and the package's stubs checked
against what it really has."""

import ast
import os
import pathlib
import re
import subprocess
import sys

import ting
from conftest import REPO

DOC = REPO / "docs" / "python.md"
README = REPO / "README.md"
STUBS = pathlib.Path(ting.__file__).with_name("_native.pyi")


def tour_block(doc: pathlib.Path) -> str:
    blocks = re.findall(r"```python ting-tour\n(.*?)```", doc.read_text(), flags=re.S)
    assert len(blocks) == 1, f"{doc.name} has one Python example marked ting-tour"
    return blocks[0]


def run(block: str, dev, tmp_path) -> list[str]:
    script = tmp_path / "example.py"
    script.write_text(block)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "TING_NODE": dev.url}, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.splitlines()


def test_the_readmes_python_block_runs_as_written(dev, tmp_path):
    lines = run(tour_block(README), dev, tmp_path)
    assert re.fullmatch(r"paid at height \d+", lines[0]), lines
    assert lines[1:] == ["the purifier holds 100"]


def test_the_five_minute_example_runs_as_written(dev, tmp_path):
    out_lines = run(tour_block(DOC), dev, tmp_path)
    lines = out_lines
    assert lines[2:] == [
        "vendor was paid 3 for 3 litres",
        "vendor claimed 3 on the ledger",
        "vendor read filter at 80% - sealed: True",
        "vendor balance 13",
    ], out_lines
    assert re.fullmatch(r"purifier funded at height \d+ balance 1000", lines[1])


def stub_classes() -> dict[str, set[str]]:
    tree = ast.parse(STUBS.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not any(
                getattr(b, "id", "") == "TypedDict" for b in node.bases):
            out[node.name] = {n.name for n in node.body
                              if isinstance(n, ast.FunctionDef) and n.name != "__init__"}
    return out


def test_the_stubs_name_exactly_what_the_module_has():
    stubs = stub_classes()
    assert set(stubs) == {"Key", "Tx", "Node", "Device", "StreamBuyer", "MarketBuyer"}
    for name, methods in stubs.items():
        cls = getattr(ting, name)
        real = {m for m in dir(cls) if not m.startswith("_")} | (
            {"__enter__", "__exit__"} & set(dir(cls)))
        assert methods == real, f"{name}: stubs {sorted(methods ^ real)} differ"
