"""docs/bounds.md names real options with their real defaults (a renamed option or a changed default
must change the table too)."""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import re

from netstack.engine.config import StackConfig
from netstack.engine.tcp.config import TcpConfig

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "bounds.md"
CLASSES = {"TcpConfig": TcpConfig, "StackConfig": StackConfig}


def _rows():
    for line in DOC.read_text().splitlines():
        match = re.match(r"\| (?!queue|---)(.+?) \| `([\w.]+)` \| (.+?) \|", line)
        if match:
            yield match.group(1), match.group(2), match.group(3)


def _default(value_text: str):
    text = value_text.replace("`", "").split(" ")[0] if not value_text.startswith("(") else value_text
    return text


def test_every_row_names_an_option_with_its_default():
    rows = list(_rows())
    assert len(rows) >= 20
    for what, name, default in rows:
        owner, _, field = name.rpartition(".")
        if owner in CLASSES:
            fields = {f.name: f.default for f in dataclasses.fields(CLASSES[owner])}
            assert field in fields, f"{name} ({what}) is not an option"
            actual = fields[field]
        else:  # a module constant, named in full
            assert owner.startswith("netstack."), f"{name} ({what}) is neither an option nor a module constant"
            module = importlib.import_module(owner)
            assert hasattr(module, field), f"{name} ({what}) does not exist"
            actual = getattr(module, field)
        assert _default(default) == str(actual), f"{name}: the doc says {default!r}, the code {actual!r}"


def test_the_readme_links_the_table():
    readme = (DOC.parents[1] / "README.md").read_text()
    assert "docs/bounds.md" in readme
