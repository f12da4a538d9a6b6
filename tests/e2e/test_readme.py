"""The README's five-minute tour, run as written, in order, on a fresh directory.

Every ``sh`` block of the "Five-minute tour" section is run by bash (``set -eu``: the first
failing command fails the test) in an empty working directory holding only a copy of
``examples/``, with the default data directory, as a reader following along on a fresh
machine would (the ``pip install`` lines are skipped: the package is installed). The
refusal the section shows as text is checked against what ``plaudit rulebook check``
really prints for that misspelling.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..conftest import EXAMPLES, ROOT
from .test_cli import PLAUDIT


def tour() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Five-minute tour", 1)[1].split("\n## ", 1)[0]
    return section


def test_the_five_minute_tour_runs_in_order_on_a_fresh_directory(tmp_path: Path) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", tour(), re.S)
    assert len(blocks) >= 3, "the tour lost its commands"
    script = "\n".join(line for block in blocks for line in block.splitlines()
                       if not line.startswith("pip install"))
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    env.update({"NO_COLOR": "1", "TERMINAL_WIDTH": "120",
                "PATH": f"{Path(PLAUDIT).parent}{os.pathsep}{env.get('PATH', '')}"})
    result = subprocess.run(["bash", "-c", "set -eu\n" + script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    out = " ".join(result.stdout.split())
    assert "4 events stored" in out and "0 events stored, 4 duplicates" in out
    # the edit really changed the rulebook, so publishing made a new version
    edited = (tmp_path / "my-rulebook.yaml").read_text()
    assert edited != (EXAMPLES / "sesame-style.yaml").read_text()
    assert "published my-rulebook.yaml as version 2" in out
    exported = json.loads((tmp_path / "m-42.json").read_text())
    assert [e["id"] for e in exported["events"]][:4] == ["e-1", "e-2", "e-3", "e-4"]
    assert "points.rules[verified].award: 100 -> 150" in out      # as the tour says
    assert "entries, chain intact" in out
    member = subprocess.run([PLAUDIT, "member", "m-42", "--json", "--as-of", "2026-06-30"],
                            cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(member.stdout)["points"]["balance"] == 340   # as the comment says


def test_the_refusal_the_tour_shows_is_what_check_prints(tmp_path: Path) -> None:
    shown = re.search(r"```text\n(error: rulebook refused.*?)```", tour(), re.S)
    assert shown is not None
    bad = tmp_path / "my-rulebook.yaml"
    bad.write_text((EXAMPLES / "sesame-style.yaml").read_text().replace(
        "on: identity_verified", "on: identity_verifed"))
    env = {**os.environ, "NO_COLOR": "1", "TERMINAL_WIDTH": "200"}
    result = subprocess.run([PLAUDIT, "rulebook", "check", "my-rulebook.yaml"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stderr.split() == shown.group(1).split()
