"""The front door: README.md short enough to read, README, docs, help texts and the code's text free of
how and where the project was developed, every relative link of README and docs resolving, the
generated pages complete (`make docs` builds them with --strict in CI), and `make clean` leaving
what users wrote alone."""

from __future__ import annotations

import argparse
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from workflows.command_table import COMMANDS

README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 200
# Development talk: the machine the project was made on (its load, nice levels, other work on it,
# a borrowed GPU machine and what one call to it carries), numbered development rounds, issue
# numbers, and paths outside the repository. Users have none of them.
LAB_TALK = re.compile(
    r"load average|\bnice (-n )?\d|\bat nice\b|\bsessions? \d|\bround \d|other sessions|slow hour|measured here"
    r"|shared machine|\blent\b|borrowed|device call|MiB a call|\bissue \d+|shared/real-data",
    re.IGNORECASE,
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _gen_pages() -> dict:
    return runpy.run_path(str(DOCS / "gen_pages.py"), run_name="tests")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    suffixes = {".py", ".md", ".yaml", ".yml", ".sh", ".toml", ".txt"}
    return [REPO / n for n in names if (Path(n).suffix in suffixes or n == "Makefile") and (REPO / n).is_file()]


def test_readme_is_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_keeps_the_layout_table_and_the_no_detector_warning() -> None:
    text = README.read_text(encoding="utf-8")
    assert "## Layout" in text and "| level | package |" in text
    assert "No detector finds all PII" in text


def test_no_development_talk_in_the_project_text() -> None:
    this_file = Path(__file__).resolve()
    found = [
        f"{path.relative_to(REPO)}:{number}: {match.group(0)}"
        for path in _tracked_text_files()
        if path.resolve() != this_file
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        for match in [LAB_TALK.search(line)]
        if match
    ]
    assert not found, "development talk (history goes in commit messages):\n" + "\n".join(found)


def test_the_lab_talk_pattern_catches_what_it_names() -> None:
    for phrase in ("load average 11-14", "at nice 19", "session 7", "a slow hour", "../shared/real-data", "issue 20"):
        assert LAB_TALK.search(phrase), phrase
    for plain in ("best of 3 alternated rounds", "the session's report", "nice to have"):
        assert not LAB_TALK.search(plain), plain


def _slug(heading: str) -> str:
    """The anchor GitHub and MkDocs give a heading (lower case, punctuation dropped, spaces as -)."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", text)


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # a '#' comment in a code block is no heading
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def test_every_relative_link_of_readme_and_docs_resolves() -> None:
    generated = {DOCS / page for page in _gen_pages()["PAGES"]}
    broken = []
    for source in [README, *sorted(DOCS.rglob("*.md"))]:
        for target in LINK.findall(source.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            path = (source.parent / file_part).resolve() if file_part else source
            if path in generated:
                continue  # written by docs/gen_pages.py at build time; mkdocs --strict checks those
            if not path.exists():
                broken.append(f"{source.relative_to(REPO)}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{source.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_every_pii_factory_command_the_docs_name_exists() -> None:
    named = {
        (source.name, word)
        for source in [README, *DOCS.rglob("*.md")]
        for word in re.findall(r"(?<![\w/.-])pii-factory ([a-z][a-z-]*)", source.read_text(encoding="utf-8"))
    }
    unknown = sorted(f"{name}: pii-factory {word}" for name, word in named if word not in COMMANDS)
    assert not unknown, unknown


def _long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        max(action.option_strings, key=len)
        for action in parser._actions
        if action.option_strings and action.help != argparse.SUPPRESS
    ]


def test_the_command_reference_holds_every_command_and_option_from_its_parser() -> None:
    pages = _gen_pages()
    reference = pages["command_reference"]()
    for name in COMMANDS:
        assert f"\n## {name}\n" in reference, name
        parser = pages["command_parser"](name)
        section = reference.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert f"usage: pii-factory {name}" in section
        missing = [option for option in _long_options(parser) if option not in section]
        assert not missing, f"{name}: {missing}"
        assert not LAB_TALK.search(section), f"{name}: {LAB_TALK.search(section).group(0)}"


def test_the_recipe_table_lists_every_recipe() -> None:
    table = _gen_pages()["recipe_table"]()
    for recipe in sorted((REPO / "llamafactory_configs").glob("*.yaml")):
        assert f"`{recipe.name}`" in table, recipe.name


def test_the_benchmark_pages_carry_their_machine() -> None:
    pages = _gen_pages()
    cpu = pages["cpu_results"]()
    assert "| cpu |" in cpu and "| cores |" in cpu and "| date |" in cpu
    gpu = pages["gpu_results"]()
    assert "Device: " in gpu and "NVIDIA" in gpu


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clean_removes_the_demo_files_and_leaves_users_data(tmp_path: Path) -> None:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    demo = [
        "data/pii_synth.jsonl",
        "data/pii_synth_train.json",
        "data/pii_synth_genres.json",
        "outputs/tiny_cpu_demo/x",
    ]
    made = [".venv/bin/python", ".cache/tiny-qwen3/config.json", "site/index.html"]
    users = ["data/my_pii.jsonl", "data/pii_train.json", "outputs/qwen4b_lora/adapter_model.safetensors"]
    for name in demo + made + users:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert [n for n in users if not (tmp_path / n).exists()] == []
    assert [n for n in demo + made if (tmp_path / n).exists()] == []
