"""The docs cannot rot: every block marked runnable in README.md and docs/ runs, every
link between them resolves, the settings reference is what the models generate, and
the repository a user clones is self-contained (nothing points outside it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli.main import COMMANDS
from streams.config import load_all, reference_markdown

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+) runnable\n(.*?)^```", flags=re.S | re.M)


def runnable(lang: str) -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(ROOT)}#{i}", code)
        for page in PAGES
        for i, (kind, code) in enumerate(FENCE.findall(page.read_text()))
        if kind == lang
    ]


def test_there_are_runnable_blocks() -> None:
    assert len(runnable("sh")) >= 3 and runnable("toml")


@pytest.mark.parametrize(("where", "code"), runnable("sh"))
def test_a_runnable_shell_block_runs(where: str, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFOLD_")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{where}:\n{code}\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("where", "code"), runnable("toml"))
def test_a_runnable_config_file_loads(where: str, code: str, tmp_path: Path) -> None:
    config = tmp_path / "agentfold.toml"
    config.write_text(code)
    loaded = load_all(config, {})
    assert {src for _, _, src in loaded.rows() if src.startswith(str(config))}, where


def test_the_settings_reference_is_generated_from_the_models() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("<!-- settings-reference:start -->\n", 1)[1]
    section = section.split("<!-- settings-reference:end -->", 1)[0]
    assert section == reference_markdown(), "regenerate: agentfold config --reference"


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_the_pages_resolve(page: Path) -> None:
    for target, anchor in re.findall(
        r"\]\(((?!https?:)[^)#\s]*)(?:#([^)\s]*))?\)", page.read_text()
    ):
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: link to missing {target}"
        if anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", path.read_text(), flags=re.M)
            assert anchor in {slug(h) for h in headings}, f"{page.name}: no #{anchor} in {target}"


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 10 * 1024
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[-1]
        assert f"`agentfold {name}" in readme or f"`{name} " in readme, f"{name} not in README"
    assert "in memory" in readme and "real Kafka" in readme


def test_nothing_points_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = "../" + "shared"  # spelled apart, so that this file does not name it
    pointing = [f for f in files if outside in (ROOT / f).read_text(errors="replace")]
    assert pointing == []


def test_the_cli_help_of_every_command_renders() -> None:
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[-1]
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", name, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and "usage: agentfold" in done.stdout, name
