"""Structure-safe decoding: every answer parses, whatever the model wants; entity scores; the bias."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from eval.decoding.generation import generate_answers
from eval.decoding.structure import StructureConstraint, answer_frame, budget_reserve, frame_index
from eval.scoring.scorer import score_generations
from piifactory.answer import extract, target_text
from piifactory.schema import PII_TYPES, Entity


@pytest.fixture(scope="module")
def tok(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def _stops(tok) -> list[int]:
    return [tok.convert_tokens_to_ids("<|im_end|>")]


def drive(tok, constraint: StructureConstraint, policy, steps: int) -> list[str]:
    """Greedy decoding as ``generate`` runs it, with logits from ``policy(row, bytes so far)``."""
    index = frame_index(tok)
    rows = len(constraint.rows)
    ids = torch.zeros(rows, 1, dtype=torch.long)
    written = [b""] * rows
    done = [False] * rows
    for _ in range(steps):
        scores = torch.stack([policy(row, written[row]) for row in range(rows)])
        scores = constraint(ids, scores)
        chosen = scores.argmax(dim=-1)
        for row, token in enumerate(chosen.tolist()):
            if done[row] or token in _stops(tok):
                done[row] = True
                chosen[row] = _stops(tok)[0]
            else:
                written[row] += index.raw[token]
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        if all(done):
            break
    return [data.decode() for data in written]


def scripted(tok, answers: list[tuple[str, float]]):
    """A model that wants to write one of ``answers`` (target strings with a preference each):
    a token's logit is its length plus the preference of the likeliest answer it continues."""
    index = frame_index(tok)
    width = len(tok)
    targets = [(text.encode(), bonus) for text, bonus in answers]

    def policy(row: int, written: bytes) -> torch.Tensor:
        logits = torch.full((width,), -5.0)
        for token_id, data in index.raw.items():
            for target, bonus in targets:
                if target.startswith(written + data):
                    logits[token_id] = max(float(logits[token_id]), len(data) + bonus)
        if written in [target for target, _ in targets]:
            logits[_stops(tok)[0]] = 50.0
        return logits

    return policy


def test_the_frame_is_target_texts_own() -> None:
    frame = answer_frame()
    assert {lit.type for lit in frame.start} == {None, *PII_TYPES}
    empty = next(lit.text for lit in frame.start if lit.type is None)
    assert empty.decode() == target_text([])
    first = next(lit.text for lit in frame.start if lit.type == "PHONE")
    second = next(lit.text for lit in frame.after if lit.type == "EMAIL")
    answer = target_text([Entity("PHONE", "1"), Entity("EMAIL", "a")])
    assert answer.encode() == first + b"1" + second + b"a" + frame.close_after_value


def feed(tok, constraint: StructureConstraint, answer: str, width: int) -> torch.Tensor:
    """Run the processor over ``answer``'s tokens as generate would; the scores for the next one."""
    ids = torch.zeros(1, 1, dtype=torch.long)
    scores = constraint(ids, torch.randn(1, width))
    for token in tok.encode(answer, add_special_tokens=False):
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        scores = constraint(ids, torch.randn(1, width))
    return scores


def test_after_a_value_only_the_frame_may_follow(tok) -> None:
    """The failure seen on forms and chats: a value closed, then text written on outside it."""
    source = "快捷支付：北京趋势信息有限公司"
    constraint = StructureConstraint(tok, [source], stop_token_ids=_stops(tok), max_new_tokens=200)
    babble = '{"entities": [{"type": "ORG", "value": "北京趋势信息有限公司"趋趋趋麟信息有限公司"}]}'
    out = drive(tok, constraint, scripted(tok, [(babble, 3.0)]), 200)[0]
    entities = json.loads(out)["entities"]
    assert entities[0] == {"type": "ORG", "value": "北京趋势信息有限公司"}
    assert all(e["type"] in PII_TYPES and e["value"] in source for e in entities)


def test_every_allowed_token_continues_the_frame(tok) -> None:
    index = frame_index(tok)
    frame = answer_frame()
    source = "张三的电话13800138000"
    for written in (
        '{"entities": [',
        '{"entities": [{"type": "PH',
        '{"entities": [{"type": "PHONE", "value": "138',
        '{"entities": [{"type": "PHONE", "value": "138"',
    ):
        constraint = StructureConstraint(tok, [source], stop_token_ids=_stops(tok), max_new_tokens=200)
        scores = feed(tok, constraint, written, len(tok))
        allowed = [index.raw[t] for t in torch.nonzero(torch.isfinite(scores[0])).flatten().tolist()]
        assert allowed
        for piece in allowed:
            text = written.encode() + piece
            ok = any(lit.text.startswith(text) or text.startswith(lit.text) for lit in frame.start)
            if not ok:  # inside or after a value
                head, _, value_and_rest = text.partition(b'"value": "')
                body, quote, rest = value_and_rest.partition(b'"')
                assert body.decode() in source
                assert not quote or any(lit.text.startswith(b'"' + rest) for lit in frame.after), piece


def test_the_budget_closes_every_answer(tok) -> None:
    """A model that never stops listing entities still ends its answer within the budget."""
    source = "张三的电话13800138000"
    endless = '{"entities": [' + ", ".join(['{"type": "PERSON", "value": "张三"}'] * 40) + "]}"
    for budget in (9, 30, 57):
        constraint = StructureConstraint(tok, [source], stop_token_ids=_stops(tok), max_new_tokens=budget)
        out = drive(tok, constraint, scripted(tok, [(endless, 0.0)]), budget)[0]
        entities = json.loads(out)["entities"]
        assert all(e == {"type": "PERSON", "value": "张三"} for e in entities)
    assert budget_reserve(tok) > 0


def test_bias_raises_recall_where_greedy_stops_early_and_scores_say_how_sure(tok) -> None:
    text = "张三的电话13800138000"
    short = target_text([Entity("PERSON", "张三")])
    full = target_text([Entity("PERSON", "张三"), Entity("PHONE", "13800138000")])
    policy = scripted(tok, [(short, 2.0), (full, 0.0)])  # the model prefers to stop after the name
    results = {}
    for bias in (0.0, 5.0):
        constraint = StructureConstraint(tok, [text], stop_token_ids=_stops(tok), max_new_tokens=120, recall_bias=bias)
        answer = drive(tok, constraint, policy, 120)[0]
        results[bias] = (answer, constraint.entity_scores(0))
    assert results[0.0][0] == short
    assert results[5.0][0] == full
    greedy, biased = (score_generations([text], [full], [results[b][0]])["micro"]["recall"] for b in (0.0, 5.0))
    assert (greedy, biased) == (0.5, 1.0)
    name, phone = results[5.0][1]
    assert len(results[0.0][1]) == 1
    assert 0.0 < phone.p_open < 0.5 < name.p_open  # the model did not want the phone: it says so
    assert phone.score < name.score
    assert results[0.0][1][0].score == pytest.approx(name.score)  # the bias leaves the scores alone


@pytest.mark.slow
def test_an_untrained_model_never_writes_an_unparseable_answer(tiny_model, tok) -> None:
    """Random weights write garbage; under the constraint every answer still parses, with schema
    types and values copied from the input, at every budget and bias."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    texts = ["张三的电话13800138000", "地址：武汉街K座", "无", "", 'a"b\\c\n邮箱 x@y.com\t完', "ＩＤ：１１０１０１"]
    prompts = [tok.encode(t or "空", add_special_tokens=False) for t in texts]
    answers = []
    for budget, bias in ((10, 0.0), (48, 0.0), (48, 6.0), (96, 12.0)):
        for answer in generate_answers(
            model,
            tok,
            prompts,
            max_new_tokens=budget,
            stop_token_ids=_stops(tok),
            batch_size=3,
            sources=texts,
            recall_bias=bias,
        ):
            answers.append(answer)
    for answer, text in zip(answers, texts * 4):
        parsed = json.loads(answer.text)
        ex = extract(answer.text, text)
        assert not (ex.parse_failure or ex.truncated or ex.unknown or ex.invalid_items or ex.hallucinations)
        assert len(answer.scores) == len(parsed["entities"]) == len(ex.entities)
        assert all(0.0 <= s.score <= 1.0 for s in answer.scores)
    assert any(answer.scores for answer in answers)  # the bias made it write entities
    assert json.loads(answers[3].text) == {"entities": []}  # an empty input has nothing to copy
