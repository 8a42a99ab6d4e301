"""The one recipe reader: every file problem is ``file:line: ...`` (column in the message), every bad
override a one-line ValueError, dotted overrides reach nested blocks without touching the input."""

from __future__ import annotations

from pathlib import Path

import pytest

from piifactory.io import InputError
from piifactory.recipe_file import apply_overrides, parse_yaml, read_recipe, read_yaml


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    with pytest.raises(InputError) as caught:
        parse_yaml("a: 1\n  b: 2\n", path)
    assert str(caught.value) == f"{path}:2: invalid YAML: mapping values are not allowed here (column 4)"
    assert (caught.value.path, caught.value.line) == (str(path), 2)


def test_python_tag_is_refused_not_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"r\.yaml:2: invalid YAML: .*python/object/apply:os\.system"):
        parse_yaml('a: 1\nb: !!python/object/apply:os.system ["true"]\n', tmp_path / "r.yaml")


def test_duplicate_key_is_refused_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"r\.yaml:4: duplicate key 'mode'"):
        parse_yaml("pii_factory:\n  preflight:\n    mode: warn\n    mode: error\n", tmp_path / "r.yaml")


def test_deep_nesting_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"r\.yaml: invalid YAML: nested too deeply"):
        parse_yaml("a: " + "[" * 5000, tmp_path / "r.yaml")


def test_a_recipe_is_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"r\.yaml:1: a recipe is a mapping of keys, got list"):
        parse_yaml("- a\n- b\n", tmp_path / "r.yaml")
    assert parse_yaml("", tmp_path / "r.yaml") == {}


def test_read_yaml_keeps_any_document(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert read_yaml(path) == ["a", "b"]
    with pytest.raises(InputError, match="a recipe is a mapping"):
        read_recipe(path)


@pytest.mark.parametrize("content", [None, b"a: \xff\n"], ids=["missing", "not-utf8"])
def test_unreadable_file_is_an_input_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "r.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=r"r\.yaml: cannot read recipe: "):
        read_recipe(path)


def test_dotted_overrides_reach_nested_blocks_on_a_copy() -> None:
    config = {"cutoff_len": 8, "pii_factory": {"preflight": {"mode": "warn"}, "focal_loss": None}}
    out = apply_overrides(
        config,
        [
            "cutoff_len=512",
            "pii_factory.preflight.mode=error",
            "pii_factory.focal_loss.gamma=1.0",
            "new.block=[1, 2]",
            " template =qwen3",
            "adapter_name_or_path=",
        ],
    )
    assert out == {
        "cutoff_len": 512,
        "template": "qwen3",
        "adapter_name_or_path": None,
        "new": {"block": [1, 2]},
        "pii_factory": {"preflight": {"mode": "error"}, "focal_loss": {"gamma": 1.0}},
    }
    assert config == {"cutoff_len": 8, "pii_factory": {"preflight": {"mode": "warn"}, "focal_loss": None}}


@pytest.mark.parametrize(
    "override,message",
    [
        ("cutoff_len", r"override 'cutoff_len' is not key=value"),
        ("=8", r"override '=8' is not key=value"),
        ("a..b=1", r"override 'a\.\.b=1' is not key=value"),
        ("cutoff_len.x=1", r"override 'cutoff_len\.x=1': 'cutoff_len' is not a block"),
        ("template=[qwen", r"override 'template=\[qwen': invalid YAML: .*\(column \d+\)"),
        ("x={a: 1, a: 2}", r"override 'x=\{a: 1, a: 2\}': duplicate key 'a'"),
        ("x=!!python/name:os.system", r"override 'x=!!python/name:os\.system': invalid YAML: .*python/name"),
    ],
)
def test_bad_override_is_a_value_error(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        apply_overrides({"cutoff_len": 8}, [override])
    assert not isinstance(caught.value, InputError)  # the recipe file is not at fault
