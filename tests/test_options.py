"""The block's pydantic model: cross-field rules as validators, a description on every option, and
docs/plugins.md's options table generated from it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from piifactory.errors import PiiFactoryError
from plugins import options_doc
from plugins.options import OptionsError, PiiFactoryOptions, parse_options


@pytest.mark.parametrize(
    "recipe,block,expected",
    [
        ({"stage": "pt"}, {}, "pii_factory: the plugins apply to `stage: sft`, not 'pt'"),
        ({"use_ray": "true"}, {}, "pii_factory: Ray workers are not covered by the plugins; drop `use_ray`"),
        (
            {"use_dft_loss": True, "use_asft_loss": True},
            {"focal_loss": None},
            "pii_factory.focal_loss cannot be combined with use_dft_loss, use_asft_loss",
        ),
        (
            {"predict_with_generate": True},
            {"entity_metrics": {}},
            "pii_factory.entity_metrics replaces `predict_with_generate` during training; set one of them",
        ),
        (
            {"neat_packing": "true"},
            {"entity_metrics": {}},
            "pii_factory.entity_metrics scores one sample per evaluation row, and `neat_packing` joins rows; "
            "turn packing off or set entity_metrics.enabled: false",
        ),
    ],
)
def test_rules_across_the_recipe_are_validators(recipe: dict, block: dict, expected: str) -> None:
    with pytest.raises(OptionsError) as info:
        parse_options(block, recipe={"stage": "sft", **recipe})
    assert str(info.value) == expected
    parse_options(block)  # without the recipe only the block itself is judged


def test_allowed_combinations_pass() -> None:
    options = parse_options(
        {"focal_loss": {}, "entity_metrics": {"enabled": False}},
        recipe={"stage": "sft", "use_dft_loss": False, "predict_with_generate": True},
    )
    assert options.focal_loss.gamma == 2.0 and not options.entity_metrics.enabled


def test_the_plugins_errors_are_pii_factory_errors() -> None:
    from piifactory.lf_compat import UnsupportedVersionError
    from plugins.activation import PreflightFailed

    for error in (OptionsError, UnsupportedVersionError, PreflightFailed):
        assert issubclass(error, PiiFactoryError)


def _fields(model: type[BaseModel], prefix: str = "pii_factory"):
    for name, field in model.model_fields.items():
        yield f"{prefix}.{name}", field
        sub = options_doc._sub_block(field.annotation)
        if sub is not None:
            yield from _fields(sub, f"{prefix}.{name}")


def test_every_option_has_a_description() -> None:
    fields = dict(_fields(PiiFactoryOptions))
    assert len(fields) == 3 + 4 + 9 + 2
    assert [key for key, field in fields.items() if not (field.description or "").strip()] == []


def test_the_docs_table_is_the_models() -> None:
    doc = options_doc.DOC.read_text(encoding="utf-8")
    assert options_doc.main(["--check"]) == 0, "run python -m plugins.options_doc --write"
    assert "| `pii_factory.focal_loss.gamma` | float, >= 0.0 | 2.0 | focusing exponent" in doc
    assert "| `pii_factory.entity_metrics.values` | copy \\| free | copy |" in doc
    drifted = doc.replace(
        "| `pii_factory.preflight.mode` | off \\| warn \\| error | warn |",
        "| `pii_factory.preflight.mode` | off \\| warn \\| error | error |",
    )
    assert drifted != doc and options_doc.with_table(drifted) == doc


def test_check_fails_on_a_stale_doc_and_write_mends_it(tmp_path, monkeypatch, capsys) -> None:
    stale = tmp_path / "plugins.md"
    stale.write_text(f"before\n{options_doc.BEGIN}\n| old table |\n{options_doc.END}\nafter\n", encoding="utf-8")
    monkeypatch.setattr(options_doc, "DOC", stale)
    assert options_doc.main(["--check"]) == 1
    assert "differs from plugins/options.py" in capsys.readouterr().err
    assert options_doc.main(["--write"]) == 0 and options_doc.main(["--check"]) == 0
    text = stale.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "| old table |" not in text
