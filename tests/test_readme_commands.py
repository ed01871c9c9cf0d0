"""The README's two copy-paste commands are contracts: CI runs the test one, users run the demo one."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ci_extracts_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "<!-- test-command -->" in readme
    script = ROOT / ".ci" / "run"
    extract = subprocess.run(
        ["awk", r"/<!-- test-command -->/{f=1; next} f && /^```/{n++; if (n==2) exit; next} f && n==1", "README.md"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert "pytest" in extract
    assert extract in readme
    assert "test-command" in script.read_text()


def test_readme_has_the_demo_command():
    readme = (ROOT / "README.md").read_text()
    assert "netstack demo" in readme
