"""Property-based fuzzing of every converter input format, the scorer's extraction and the score
CLI: whatever the bytes, the pack answers with exit 0, or exit 2 and ``error: FILE:LINE: ...``,
never a traceback; with --skip-invalid the counts reconcile line for line."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converters import cli
from eval import score
from piifactory.answer import extract, target_text
from piifactory.schema import PII_TYPES, Entity

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BOM = b"\xef\xbb\xbf"

# --- building blocks ---------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 50)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=6,
)
texts = st.text(
    alphabet=st.sampled_from("张三李四王小明手机号码13800138000 ，。@.a-Z\t\r\u3000\u2028１２"), max_size=30
)
offsets = st.integers(-3, 40) | json_values
labels = st.sampled_from(["PERSON", "PHONE", "NAME", "手机号", "ORG", "person", "NOT_A_TYPE", ""]) | json_values
values = texts | json_values


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A field's usual value most of the time, any JSON value now and then (wrong types)."""
    return st.one_of(strategy, strategy, strategy, json_values)


def spans_of(keys: tuple[str, str, str, str]) -> st.SearchStrategy:
    label, value, start, end = keys
    return st.lists(
        st.fixed_dictionaries({label: labels, start: offsets, end: offsets}, optional={value: values}), max_size=4
    )


RECORDS: dict[str, st.SearchStrategy] = {
    "pii": st.fixed_dictionaries(
        {
            "input": maybe(texts),
            "output": maybe(
                st.fixed_dictionaries(
                    {
                        "entities": maybe(
                            st.lists(
                                st.fixed_dictionaries(
                                    {"type": labels, "value": values}, optional={"start": offsets, "end": offsets}
                                ),
                                max_size=4,
                            )
                        )
                    }
                )
            ),
        }
    ),
    "spans": st.fixed_dictionaries({"text": maybe(texts), "spans": maybe(spans_of(("label", "text", "start", "end")))}),
    "presidio": st.fixed_dictionaries(
        {
            "full_text": maybe(texts),
            "spans": maybe(spans_of(("entity_type", "entity_value", "start_position", "end_position"))),
        }
    ),
    "cluener": st.fixed_dictionaries(
        {"text": maybe(texts)},
        optional={
            "label": maybe(
                st.dictionaries(
                    st.sampled_from(["name", "company", "PHONE", "bogus"]),
                    maybe(
                        st.dictionaries(
                            texts,
                            maybe(st.lists(st.lists(offsets, min_size=2, max_size=2) | json_values, max_size=2)),
                            max_size=2,
                        )
                    ),
                    max_size=2,
                )
            )
        },
    ),
    "ai4privacy": st.fixed_dictionaries(
        {
            "source_text": maybe(texts),
            "privacy_mask": maybe(
                st.lists(
                    st.fixed_dictionaries(
                        {"label": labels, "start": offsets, "end": offsets}, optional={"value": values}
                    ),
                    max_size=4,
                )
            ),
        }
    ),
    "sft": st.fixed_dictionaries(
        {"instruction": maybe(texts), "output": maybe(texts)}, optional={"input": maybe(texts), "system": maybe(texts)}
    ),
    "messages": st.fixed_dictionaries(
        {
            "messages": maybe(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "role": st.sampled_from(["system", "user", "assistant", "tool"]) | json_values,
                            "content": maybe(texts),
                        }
                    ),
                    max_size=4,
                )
            )
        }
    ),
}


def encoded(record: object, ascii_only: bool) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8")


def junk_lines() -> st.SearchStrategy[bytes]:
    """Lines that are not records: random bytes, broken JSON, non-UTF-8, lone surrogates, deep nesting."""
    return st.one_of(
        st.binary(max_size=24),
        texts.map(lambda t: ('{"input": "' + t).encode("utf-8")),
        st.just(b'{"input": "\\ud800", "output": {"entities": []}}'),
        st.just(b"[" * 5000),
        st.just("张三".encode("gbk")),
        st.just(b""),
        json_values.map(lambda v: json.dumps(v).encode("utf-8")),
    )


@st.composite
def jsonl_file(draw: st.DrawFn, fmt: str) -> bytes:
    """A JSONL file of ``fmt`` records mixed with junk, a record first (so it is read as JSONL),
    with LF or CRLF line ends and maybe a BOM."""
    record = RECORDS[fmt]
    first = encoded(draw(record), draw(st.booleans()))
    rest = draw(
        st.lists(st.one_of(st.tuples(record, st.booleans()).map(lambda p: encoded(*p)), junk_lines()), max_size=8)
    )
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    return (BOM if draw(st.booleans()) else b"") + newline.join([first, *rest]) + draw(st.sampled_from([b"", newline]))


def nonblank_lines(data: bytes) -> int:
    """Records a JSONL reader must account for: every line that is not blank once decoded."""
    count = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            count += bool(raw.decode("utf-8").strip())
        except UnicodeDecodeError:
            count += 1
    return count


def call(main, argv: list[str]) -> tuple[int, str, str]:
    """Run a CLI entry point in-process; any exception it lets out fails the test (a traceback)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_clean_error(err: str, path: Path) -> None:
    assert re.fullmatch(rf"error: {re.escape(str(path))}:\d+: [^\n]+\n", err), err


def summary_counts(out: str) -> tuple[int, int, int, int]:
    found = re.search(r"read (\d+) = written (\d+) \+ dropped negatives (\d+) \+ rejected (\d+)", out)
    assert found, out
    return tuple(int(g) for g in found.groups())  # type: ignore[return-value]


def rows_in(path: Path) -> int:
    text = path.read_text(encoding="utf-8")
    return len(json.loads(text)) if path.suffix == ".json" else text.count("\n")  # JSONL: \n ends a row, not U+2028


# --- converters --------------------------------------------------------------------------------
def _convert_checks(fmt: str, data: bytes, suffix: str = ".jsonl") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"in{suffix}"
        src.write_bytes(data)
        strict_out = Path(tmp) / "strict"
        code, _, err = call(
            cli.main,
            [
                "convert",
                str(src),
                "--from",
                fmt,
                "--name",
                "f",
                "--out-dir",
                str(strict_out),
                "--no-register",
                "--no-progress",
            ],
        )
        if code == 2:
            assert_clean_error(err, src)
            assert not any(strict_out.glob("f*")), "strict mode wrote output for a bad input"
        else:
            assert code == 0, err
        out_dir = Path(tmp) / "lenient"
        code, out, err = call(
            cli.main,
            [
                "convert",
                str(src),
                "--from",
                fmt,
                "--name",
                "f",
                "--out-dir",
                str(out_dir),
                "--no-register",
                "--no-progress",
                "--skip-invalid",
                "--split",
                "0.6,0.2,0.2",
            ],
        )
        assert code == 0, err
        read, written, dropped, rejected = summary_counts(out)
        if suffix == ".jsonl":
            assert read == nonblank_lines(data)
        assert read == written + dropped + rejected and dropped == 0
        assert rows_in(out_dir / "f_rejects.jsonl") == rejected
        assert sum(rows_in(out_dir / f"f_{s}.json") for s in ("train", "val", "test")) == written
        assert not list(out_dir.glob(".*.tmp")), "a temporary file was left behind"
        code, out, err = call(cli.main, ["stats", str(src), "--from", fmt, "--no-progress", "--json"])
        assert code == 0, err
        stats = json.loads(out)
        assert stats["records"] + stats["rejected"] == read


@pytest.mark.parametrize("fmt", list(RECORDS))
def test_fuzz_every_json_input_format(fmt: str) -> None:
    @FUZZ
    @given(data=jsonl_file(fmt))
    def check(data: bytes) -> None:
        _convert_checks(fmt, data)

    check()


conll_lines = st.one_of(
    st.tuples(
        st.sampled_from(["张", "三", "138", "Wang", "。", "-DOCSTART-"]),
        st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PHONE", "B-NAME", "I-ORG", "B-", "X-PER", "B-BOGUS"]),
    ).map(lambda p: f"{p[0]} {p[1]}".encode("utf-8")),
    st.sampled_from([b"", b"   ", b"lonely", "王五".encode("gbk"), b"\xff\xfe"]),
    st.binary(max_size=12),
)


@FUZZ
@given(
    lines=st.lists(conll_lines, min_size=1, max_size=20), newline=st.sampled_from([b"\n", b"\r\n"]), bom=st.booleans()
)
def test_fuzz_conll(lines: list[bytes], newline: bytes, bom: bool) -> None:
    _convert_checks("conll", (BOM if bom else b"") + newline.join(lines) + newline, suffix=".conll")


def test_huge_and_empty_lines_are_records_or_rejects(tmp_path: Path) -> None:
    huge = {
        "input": "客户张三的电话是13800138000。" * 20_000,
        "output": {"entities": [{"type": "PHONE", "value": "13800138000"}]},
    }
    data = b"\n".join([encoded(huge, False), b"", b"   ", b"{}" + b" " * 100_000, b"\r"]) + b"\n"
    _convert_checks("pii", data)


# --- the scorer --------------------------------------------------------------------------------
answers = st.one_of(
    st.text(max_size=80),
    st.lists(st.fixed_dictionaries({"type": labels, "value": values}), max_size=4).map(
        lambda items: json.dumps({"entities": items}, ensure_ascii=False)
    ),
    json_values.map(json.dumps),
).flatmap(
    lambda s: st.sampled_from([s, "<think>" + s, s + "</think>{", "```json\n" + s, s[: len(s) // 2], "[" * 3000 + s])
)


@FUZZ
@given(raw=answers, text=st.none() | texts)
def test_fuzz_extract_never_raises_and_flags_are_consistent(raw: str, text: str | None) -> None:
    ex = extract(raw, text)
    assert all(e.type in PII_TYPES for e in ex.entities)
    assert not (ex.parse_failure and ex.truncated)
    assert ex.empty_output == (not raw.strip())
    assert 0 <= ex.hallucinations <= len(ex.entities) + len(ex.unknown)
    if text is None:
        assert ex.hallucinations == 0


entity_lists = st.lists(st.builds(Entity, st.sampled_from(list(PII_TYPES)), texts.filter(str.strip)), max_size=5)


@FUZZ
@given(entities=entity_lists)
def test_fuzz_extract_round_trips_any_target(entities: list[Entity]) -> None:
    answer = target_text(entities)
    ex = extract("<think>\n</think>\n\n" + answer + "<|im_end|>")
    assert [(e.type, e.value) for e in ex.entities] == [(e.type, e.value) for e in entities]
    assert not (ex.parse_failure or ex.truncated or ex.invalid_items)


prediction_lines = st.one_of(
    st.fixed_dictionaries(
        {"predict": maybe(answers), "label": maybe(entity_lists.map(target_text))},
        optional={"prompt": maybe(texts), "id": json_values},
    ).map(lambda r: encoded(r, False)),
    junk_lines(),
)


@FUZZ
@given(lines=st.lists(prediction_lines, max_size=6), bom=st.booleans())
def test_fuzz_score_cli_exits_cleanly(lines: list[bytes], bom: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated_predictions.jsonl"
        path.write_bytes((BOM if bom else b"") + b"\n".join(lines))
        code, out, err = call(score.main, [str(path), "--bootstrap", "0", "--json"])
        if code == 2:
            assert_clean_error(err, path)
        else:
            assert code == 0, err
            assert json.loads(out)["failures"]["samples"] <= len(lines)
