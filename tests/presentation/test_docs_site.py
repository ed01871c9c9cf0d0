"""The docs site (mkdocs-material, mkdocs.yml) builds in strict mode: a broken link, a missing page or
an unknown anchor fails. The generated pages' staleness is checked by tests/formats/test_docs.py
(formats.md) and the machines docs test (machines.md); this checks they are in the site, rendered."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocs", reason="the docs extra (pip install 'netstack[docs]': mkdocs-material) is missing")
pytest.importorskip("material", reason="the docs extra (pip install 'netstack[docs]': mkdocs-material) is missing")


def _build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=project, capture_output=True, text=True, timeout=300,
                          env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})


def test_the_site_builds_strictly_with_every_page(tmp_path):
    site = tmp_path / "site"
    result = _build(ROOT, site)
    assert result.returncode == 0, result.stdout + result.stderr
    machines = (site / "machines" / "index.html").read_text()
    assert machines.count('class="mermaid"') >= 3  # TCP, congestion control, ARP: rendered in the browser
    assert "ESTABLISHED" in machines
    assert "src_port" in (site / "formats" / "index.html").read_text()
    assert "Quick start" in (site / "index.html").read_text()  # the README is the home page
    chapters = sorted(path.name for path in (site / "tutorial").glob("[0-9][0-9]-*") if path.is_dir())
    assert len(chapters) == 8
    assert (site / "tutorial" / "img" / "time-sequence.png").stat().st_size > 0


def test_a_broken_link_fails_the_build(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copy(ROOT / "README.md", project / "README.md")
    assert _build(project, tmp_path / "good").returncode == 0
    chapter = project / "docs" / "tutorial" / "01-craft-and-decode.md"
    chapter.write_text(chapter.read_text() + "\nSee [a page that is not there](no-such-page.md).\n")
    result = _build(project, tmp_path / "bad")
    assert result.returncode != 0 and "no-such-page.md" in result.stdout + result.stderr
