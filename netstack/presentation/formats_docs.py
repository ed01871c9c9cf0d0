"""docs/formats.md, generated: the guide's text around field tables drawn from the schemas.

``python -m netstack.presentation.formats_docs`` rewrites it; ``--check`` says whether it is stale.
"""

from __future__ import annotations

import argparse
import pathlib

from netstack.presentation import guide as formats_guide
from netstack.presentation.describe import (
    explained_schemas,
    field_table_markdown,
    option_kinds_markdown,
)
from netstack.presentation.frame_text import decode_text
from netstack.presentation.tour import tour_frames


DOCS_PATH = "docs/formats.md"


def formats_markdown() -> str:
    """docs/formats.md: guide text (formats_guide.py) around the tables generated from the schemas."""
    sections = []
    for entry in explained_schemas().values():
        if entry.name not in formats_guide.BUILTIN_SCHEMAS:
            continue  # the docs describe netstack's own schemas; user registrations vary per process
        lines = [f"### `{entry.name}`: {entry.title}", ""]
        if entry.module_doc:
            lines += [entry.module_doc, ""]
        for subtitle, schema in entry.tables:
            if subtitle:
                lines += [f"**{subtitle}**", ""]
            lines.append(option_kinds_markdown() if schema == "option_kinds" else field_table_markdown(schema))
        sections.append("\n".join(lines))
    _, syn = tour_frames()[0]
    sample, _ = decode_text(syn)
    return formats_guide.assemble("\n".join(sections), syn.hex(), sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netstack.presentation.formats_docs",
                                     description="Write docs/formats.md from the schemas.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs instead of writing it")
    parser.add_argument("--output", default=None, help=f"where to write (default: {DOCS_PATH} in the repository)")
    args = parser.parse_args(argv)
    path = pathlib.Path(args.output) if args.output else pathlib.Path(__file__).resolve().parents[2] / DOCS_PATH
    text = formats_markdown()
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m netstack.presentation.formats_docs")
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
