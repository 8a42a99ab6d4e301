"""In-process checks of the plugin pieces on the tiny model: options, version refusal, focal loss
against transformers' own causal-LM loss, gradient-accumulation normalisation, value tokens, the
entity metric's hallucination text."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from eval.scoring.scorer import score_generations
from piifactory.answer import target_text
from piifactory.lf_compat import UnsupportedVersionError
from piifactory.schema import DEFAULT_INSTRUCTION, Entity
from plugins.activation import with_plugins
from plugins.entity_metrics import EntityEvaluator
from plugins.focal_loss import ValueTokenWeigher, focal_loss
from plugins.options import EntityMetricsOptions, OptionsError, parse_options


def test_options_name_bad_keys() -> None:
    with pytest.raises(OptionsError) as info:
        parse_options({"focal_loss": {"gama": 2}, "entity_metrics": {"eval_samples": "many"}, "extra": 1})
    message = str(info.value)
    for key in ("pii_factory.focal_loss.gama", "pii_factory.entity_metrics.eval_samples", "pii_factory.extra"):
        assert key in message
    options = parse_options({"focal_loss": None, "entity_metrics": {"eval_samples": 5}})
    assert options.focal_loss.gamma == 2.0 and options.entity_metrics.eval_samples == 5
    assert options.preflight.mode == "warn"  # the preflight runs unless told off


def test_preflight_runs_before_the_model_and_error_mode_stops(tiny_model, tmp_path, capsys) -> None:
    from plugins.activation import PreflightFailed

    calls = []
    run_exp = with_plugins(lambda args, callbacks: calls.append(args))
    recipe = {
        "stage": "sft",
        "model_name_or_path": str(tiny_model),
        "template": "qwen3",
        "enable_thinking": False,
        "trust_remote_code": True,
        "dataset_dir": str(tmp_path),
        "do_train": True,
        "use_cpu": True,
    }
    with pytest.raises(PreflightFailed, match="trust_remote_code"):
        run_exp({**recipe, "pii_factory": {"preflight": {"mode": "error"}}})
    assert calls == []
    run_exp({**recipe, "pii_factory": {"preflight": {"mode": "warn"}}})
    assert len(calls) == 1 and "pii_factory" not in calls[0]
    assert "trust_remote_code" in capsys.readouterr().out
    run_exp({**recipe, "pii_factory": {"preflight": {"mode": "off"}}})
    assert len(calls) == 2 and "preflight: " not in capsys.readouterr().out


def test_other_llamafactory_version_is_refused(monkeypatch) -> None:
    from llamafactory.extras import env

    calls = []
    run_exp = with_plugins(lambda args, callbacks: calls.append(args))
    monkeypatch.setattr(env, "VERSION", "0.9.6")
    with pytest.raises(UnsupportedVersionError, match=r"plugins: written for llamafactory 0\.9\.5 only; found 0\.9\.6"):
        run_exp({"stage": "sft", "pii_factory": {"focal_loss": {}}})
    assert calls == []
    run_exp({"stage": "sft"})  # without the block the version does not matter: stock runs
    assert calls == [{"stage": "sft"}]


@pytest.fixture(scope="module")
def model_and_batch(tiny_model):
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    texts = ["李娜的电话是13812345678。", "请联系张伟，邮箱 wang@example.com", "今天天气很好。", "张三"]
    rows = [tokenizer(t)["input_ids"] for t in texts]
    width = max(map(len, rows))
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row)
        labels[i, 2 : len(row)] = torch.tensor(row[2:])  # a 2-token "prompt", right padding
    return model, input_ids, labels


def _grads(model) -> torch.Tensor:
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad()
    return grads


def test_gamma_zero_equals_transformers_causal_lm_loss(model_and_batch) -> None:
    model, input_ids, labels = model_and_batch
    mask = (input_ids != 0).long()
    stock = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
    stock.backward()
    stock_grads = _grads(model)
    logits = model(input_ids=input_ids, attention_mask=mask).logits
    ours = focal_loss(logits, labels, gamma=0.0)
    ours.backward()
    torch.testing.assert_close(ours, stock, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_grads(model), stock_grads, rtol=1e-4, atol=1e-7)
    assert focal_loss(logits, labels, gamma=2.0) < ours  # (1 - p)^2 < 1 shrinks every term


def test_gradient_accumulation_sums_to_the_full_batch(model_and_batch) -> None:
    """Two micro-batches divided by the accumulated token count give the full batch's gradient."""
    model, input_ids, labels = model_and_batch
    mask = (input_ids != 0).long()
    items = int((labels[:, 1:] != -100).sum())
    full = focal_loss(model(input_ids=input_ids, attention_mask=mask).logits, labels, gamma=2.0, alpha=0.5)
    full.backward()
    full_grads = _grads(model)
    total = 0.0
    for part in (slice(0, 1), slice(1, 4)):  # uneven token counts, as real micro-batches have
        logits = model(input_ids=input_ids[part], attention_mask=mask[part]).logits
        loss = focal_loss(logits, labels[part], gamma=2.0, alpha=0.5, num_items_in_batch=torch.tensor(items))
        loss.backward()
        total += float(loss.detach())
    assert total == pytest.approx(float(full.detach()), rel=1e-5)
    torch.testing.assert_close(_grads(model), full_grads, rtol=1e-4, atol=1e-7)


def test_value_tokens_cover_exactly_the_entity_values(tiny_model) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    entities = [Entity("PERSON", "李娜"), Entity("PHONE", "13812345678"), Entity("EMAIL", "wang@example.com")]
    ids = tokenizer(target_text(entities) + "<|im_end|>\n")["input_ids"]
    labels = torch.tensor([[-100, -100, *ids]])
    weights = ValueTokenWeigher(tokenizer, 3.0)(labels)
    assert weights[0, :2].tolist() == [0.0, 0.0]
    heavy = [i for i, w in zip(ids, weights[0, 2:].tolist()) if w == 3.0]
    assert tokenizer.decode(heavy) == "李娜13812345678wang@example.com"  # values only: no keys, types, quotes


def _prefix_ends(tokenizer, ids: tuple[int, ...]) -> list[int]:
    """The definition token_ends must equal: decode every prefix, drop a trailing partial character."""
    return [len(tokenizer.decode(ids[: i + 1], skip_special_tokens=False).rstrip("\ufffd")) for i in range(len(ids))]


@pytest.mark.parametrize("which", ["tiny", "qwen"])
def test_value_token_ends_equal_the_prefix_by_prefix_decode(which, request) -> None:
    """Group-at-a-time decoding gives every token the end the quadratic prefix decode gives, on
    targets whose characters the tiny vocabulary splits into bytes and on Qwen's real vocabulary."""
    from piifactory.synth import generate

    folder = request.getfixturevalue("tiny_model" if which == "tiny" else "qwen_tokenizer_dir")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    weigher = ValueTokenWeigher(tokenizer, 2.0)
    rare = [Entity("PERSON", "䶮龘𠀀"), Entity("ADDRESS", "😀李娜")]  # characters both vocabularies split
    split_characters = 0
    for entities in [rare, *(sample.entities for sample in generate(40, seed=7))]:
        ids = tuple(tokenizer(target_text(entities) + "<|im_end|>\n")["input_ids"])
        ends, text = weigher.token_ends(ids)
        assert ends == _prefix_ends(tokenizer, ids) and text == tokenizer.decode(ids)
        split_characters += sum(a == b for a, b in zip(ends, ends[1:]))
    assert split_characters > 0  # the case the grouping exists for was exercised


def test_value_token_ends_fall_back_where_decode_is_not_a_concatenation(tiny_model) -> None:
    """A tokenizer that joins pieces with spaces: groups do not concatenate to the text, so the
    prefix decode decides."""

    class Spaced:
        def __init__(self, inner) -> None:
            self.inner = inner

        def decode(self, ids, skip_special_tokens: bool = False) -> str:
            return " ".join(self.inner.decode([i]) for i in ids)

    spaced = Spaced(AutoTokenizer.from_pretrained(tiny_model))
    ids = tuple(spaced.inner.encode('{"entities": [{"type": "PERSON", "value": "wang"}]}'))
    assert ValueTokenWeigher(spaced, 2.0).token_ends(ids) == (_prefix_ends(spaced, ids), spaced.decode(ids))


def test_entity_metric_checks_values_against_the_input_not_the_instruction(tiny_model) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    text, answer = "李娜的电话是13812345678。", target_text([Entity("PERSON", "李娜")])
    prompt = tokenizer.encode(f"<|im_start|>user\n{DEFAULT_INSTRUCTION}\n{text}<|im_end|>\n<|im_start|>assistant\n")
    target = tokenizer.encode(answer + "<|im_end|>\n")
    row = {"input_ids": prompt + target, "labels": [-100] * len(prompt) + target}
    subset = EntityEvaluator(EntityMetricsOptions(eval_samples=1), tokenizer, []).subset("eval", [row])
    assert subset.texts[0].startswith(text) and DEFAULT_INSTRUCTION not in subset.texts[0]
    copied = '{"entities": [{"type": "PERSON", "value": "原文片段"}]}'  # a value only the instruction holds
    assert score_generations(subset.texts, subset.gold, [copied])["failures"]["hallucinations"] == 1


@pytest.mark.slow
def test_entity_metric_at_the_operating_point_scores_what_predict_serves(tiny_model, tmp_path) -> None:
    """With an operating point the metric is that of the served answers: the biased model's
    answers with only the entities at or above the thresholds."""
    from eval.decoding.dial import OperatingPoint, write_point
    from piifactory.answer import extract
    from piifactory.errors import UsageError
    from piifactory.synth import generate

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    rows = []
    for sample in generate(4, seed=3):
        prompt = tokenizer.encode(
            f"<|im_start|>user\n{DEFAULT_INSTRUCTION}\n{sample.text}<|im_end|>\n<|im_start|>assistant\n"
        )
        target = tokenizer.encode(target_text(sample.entities) + "<|im_end|>\n")
        rows.append({"input_ids": prompt + target, "labels": [-100] * len(prompt) + target})
    write_point(tmp_path / "op.json", OperatingPoint(recall_bias=8.0, min_score=0.5))
    options = EntityMetricsOptions(eval_samples=4, operating_point=str(tmp_path / "op.json"))
    evaluator = EntityEvaluator(options, tokenizer, [tokenizer.convert_tokens_to_ids("<|im_end|>")])
    metrics, records = evaluator.evaluate(model, "eval", rows)
    subset = evaluator.subset("eval", rows)
    assert (
        metrics["entity_f1"]
        == score_generations(subset.texts, subset.gold, [r["prediction"] for r in records])["micro"]["f1"]
    )
    assert metrics["parse_failure_rate"] == 0.0  # an untrained model, under the structure constraint
    raw_entities = sum(len(extract(r.get("raw", r["prediction"])).entities) for r in records)
    assert raw_entities > sum(len(extract(r["prediction"]).entities) for r in records)  # the thresholds dropped some
    with pytest.raises(UsageError, match="operating_point needs values: copy"):
        EntityEvaluator(EntityMetricsOptions(values="free", operating_point=str(tmp_path / "op.json")), tokenizer, [])
