"""The README stays true to the code: every setting documented, exactly two quick-start
commands that the `run` script knows, and CI running the same test command."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "README.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_every_setting_is_in_the_configuration_table():
    source = (REPO_ROOT / "platform" / "settings.py").read_text()
    read = set(re.findall(r'_env\w*\(\s*"([A-Z0-9_]+)"', source))
    assert read, "no settings found: has settings.py changed how it reads them?"
    table = {
        row.split("|")[1].strip(" `")
        for row in section("Configuration").splitlines()
        if row.startswith("| `KIUNGA_")
    }
    assert {f"KIUNGA_{name}" for name in read} == table


def test_the_quick_start_has_exactly_two_commands_known_to_the_run_script():
    blocks = re.findall(r"```sh\n(.*?)```", section("Quick start"), re.S)
    assert len(blocks) == 1
    commands = [line.split("#")[0].strip() for line in blocks[0].splitlines() if line.strip()]
    assert commands == ["./run up", "./run test"]
    script = (REPO_ROOT / "run").read_text()
    for command in commands:
        assert re.search(rf"^{command.split()[1]}\)$", script, re.M), command
    assert os.access(REPO_ROOT / "run", os.X_OK)


def test_ci_runs_the_readme_test_command():
    ci = REPO_ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    assert re.search(r"^\./run test\b", ci.read_text(), re.M)
