"""Tokenizer-dependent paths on Qwen's real vocabulary (151,669 tokens, 151,936 logits): token counts
for cutoff_len (converters stats, the preflight) and the focal loss's memory."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from converters import ConvertOptions, Prompting, compute_stats, convert, template_measure
from piifactory.synth import main as synth_main
from tests.test_converters_llamafactory import _load
from workflows.demo.plan import INSTRUCTION


def test_stats_and_preflight_cutoff_truncates_no_demo_answer(qwen_vocab_model: Path, tmp_path: Path) -> None:
    from plugins.preflight import data as preflight_data

    users = tmp_path / "pii_synth.jsonl"
    assert synth_main(["--samples", "300", "--seed", "0", "--out", str(users)]) == 0  # the demo's data
    prompting = Prompting(instruction=INSTRUCTION)  # as the demo converts it
    stats = compute_stats([users], prompting=prompting, measure=template_measure(qwen_vocab_model), progress=False)
    cutoff = stats.cutoff_len
    assert stats.records == 300 and cutoff % 8 == 0 and cutoff - 8 < max(stats.total) <= cutoff

    info = tmp_path / "dataset_info.json"
    convert(
        [users],
        ConvertOptions(
            name="demo",
            out_dir=tmp_path,
            ratios=(1.0, 0.0, 0.0),
            dataset_info=info,
            progress=False,
            prompting=prompting,
        ),
    )
    tokenizer, dataset = _load(qwen_vocab_model, tmp_path, "demo", cutoff, tmp_path / "run")
    assert max(len(r["input_ids"]) for r in dataset) == max(stats.total)  # stats measured what LLaMA-Factory renders
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert all([t for t in r["labels"] if t != -100][-2] == eos for r in dataset)  # every answer ends intact

    count, method = preflight_data.token_counter(str(qwen_vocab_model))
    assert method == "tokenizer"
    entry = json.loads(info.read_text(encoding="utf-8"))["demo"]
    checked = preflight_data.measure(entry, tmp_path, cutoff, "qwen3", count, method)
    assert checked.rows == 300 and checked.truncated_answers == 0
    assert checked.longest_total >= max(stats.total)  # the preflight's template overhead errs long, never short


def _saved_bytes(loss_fn, logits: torch.Tensor) -> int:
    """Bytes of tensors autograd keeps for backward that do not share the logits' storage."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() != logits.untyped_storage().data_ptr():
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss_fn(logits).backward()
    return sum(seen.values())


def test_focal_loss_keeps_less_than_the_default_loss_for_backward_at_152k() -> None:
    from transformers.loss.loss_utils import ForCausalLMLoss

    from plugins.focal_loss import focal_loss

    torch.manual_seed(0)
    vocab = 151_936
    logits = torch.randn(1, 600, vocab, requires_grad=True)
    labels = torch.randint(0, vocab, (1, 600))
    labels[:, :200] = -100  # the prompt
    default = _saved_bytes(lambda x: ForCausalLMLoss(x, labels, vocab_size=vocab), logits)
    focal = _saved_bytes(lambda x: focal_loss(x, labels, gamma=2.0), logits)
    full = logits.numel() * 4
    assert default >= full  # the default keeps a full fp32 log-softmax
    assert focal < full // 10 and focal <= default  # the focal loss keeps no full-vocabulary tensor


def test_qwen_vocab_bench_replays_the_constraint_on_cpu_and_on_meta(qwen_vocab_model: Path, tmp_path: Path) -> None:
    """The pieces of ``bench.qwen_vocab.run`` on 4 prompts (run itself: `make bench`)."""
    from bench import batched_generation as bench_predict
    from bench import qwen_vocab as bench_qwen_vocab
    from bench import suite as runner
    from eval import predict

    assert runner.BENCHMARKS["qwen-vocab"] is bench_qwen_vocab
    prompts, tokenizer, _, _ = predict.render_prompts(bench_predict._recipe(qwen_vocab_model, tmp_path, 4))
    on_cpu, steps = bench_predict._replay_constraint(tokenizer, prompts)
    on_host, same_steps = bench_predict._replay_constraint(tokenizer, prompts, "meta")
    assert steps == same_steps > 10 and on_cpu > 0 and on_host > 0
