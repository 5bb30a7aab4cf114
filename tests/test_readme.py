"""The README stays true: CI runs its test command, and its model table lists every id."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import heas_envs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n# \d\. .*\n(.*)\n```", README)


def test_ci_runs_the_readme_test_command():
    commands = readme_commands()
    assert len(commands) == 2 and "pytest" in commands[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci_lines


def test_the_model_table_lists_every_registered_id():
    table_ids = re.findall(r"^\| `(heas_envs/[\w-]+)` \|", README, flags=re.M)
    assert table_ids == heas_envs.list_envs()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_every_python_block_of_the_readme_runs(tmp_path, monkeypatch):
    """The blocks run in order in one namespace, as a reader would paste them."""
    blocks = python_blocks()
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("readme_blocks")  # a real module, so that its classes pickle
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for k, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {k + 1}", "exec"), module.__dict__)
        except Exception as err:
            raise AssertionError(f"README python block {k + 1} fails: {err!r}\n{block}") from err
