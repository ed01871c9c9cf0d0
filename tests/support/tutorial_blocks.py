"""The fenced blocks of a tutorial chapter, with the marker comment before each (see docs/tutorial/index.md).

Markers (an HTML comment on the line(s) just before the fence):
``<!-- output -->`` the block is what the previous runnable block prints; ``<!-- run: shell -->`` run
this sh block in the chapter's directory; ``<!-- run: namespace -->`` run it inside a network namespace
(root); ``<!-- not run: REASON -->`` shown, not run (setup the test does itself, sample output).
Python blocks run unless marked ``not run``; any other block must carry a marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*(output|run: shell|run: namespace|not run: .+?)\s*-->\s*$")


@dataclass
class Block:
    language: str
    code: str
    marker: str | None  # "output", "run: shell", "run: namespace", "not run: ..." or None
    line: int  # 1-based line of the opening fence

    @property
    def runs(self) -> bool:
        if self.marker is not None and self.marker.startswith("not run"):
            return False
        return self.language == "python" or (self.marker or "").startswith("run:")


def blocks(text: str) -> list[Block]:
    found = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        marker = None
        back = index - 1
        while back >= 0 and not lines[back].strip():
            back -= 1
        if back >= 0 and (match := MARKER.match(lines[back].strip())):
            marker = match.group(1)
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"line {index + 1}: fence never closed")
        found.append(Block(opening.group(1), "\n".join(lines[index + 1:end]) + "\n", marker, index + 1))
        index = end + 1
    return found


def unaccounted(chapter_blocks: list[Block]) -> list[str]:
    """Blocks that are neither run, nor output, nor explicitly not run: every snippet must be one."""
    problems = []
    for block in chapter_blocks:
        if block.runs or block.marker == "output" or (block.marker or "").startswith("not run"):
            continue
        problems.append(f"line {block.line}: a ```{block.language} block without a marker")
    return problems
