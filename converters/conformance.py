"""``python -m converters conformance DIR``: convert every corpus of a folder of real data (the
files the manifest below names) with its label preset and print one Markdown table: records read,
written and rejected, entities by type, spans dropped on purpose, and a corruption check on the
written rows (every value is a slice of its input; no position digits left in the text; the
entities by type are the counts the corpus's SOURCE.md gives, mapped by the preset).

Every rejection must be one this manifest explains (a slip in the source, named by line); a
rejection it does not explain, an explained one that no longer happens, a corrupted row or a file
of the folder the manifest does not know makes the run fail (exit 1), so CI notices.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from converters.label_presets import get_preset
from converters.pipeline import ConvertOptions, convert
from converters.writers import iter_rows
from piifactory.tables import markdown_table


@dataclass(frozen=True)
class Corpus:
    """One file of the folder: its preset, its format (None: detected), the entities it must
    give (type -> count, from the label counts of its SOURCE.md, mapped by the preset) and the
    rejections its source earns (line -> why; no values: messages reach CI logs)."""

    path: str
    preset: str
    fmt: str | None
    types: Mapping[str, int]
    expected: Mapping[int, str] = field(default_factory=dict)


_NO_B = "the source opens an entity with I- after O (no B-): an annotation slip, the sentence is kept out"

CORPORA = (
    Corpus(
        "cluener2020/dev_first500.json", "cluener", "cluener", {"ORG": 159 + 137 + 84, "PERSON": 157, "ADDRESS": 138}
    ),
    Corpus(
        "cluener2020/train_lines1501-1600.json",
        "cluener",
        "cluener",
        {"ORG": 35 + 35 + 19, "PERSON": 27, "ADDRESS": 19},
    ),
    Corpus("weibo-ner/weiboNER_2nd_conll.dev", "weibo", "conll", {"PERSON": 90, "ORG": 47, "ADDRESS": 26 + 6}),
    # SOURCE.md's 102 PER.NAM, 41 ORG.NAM, 25 + 5 GPE/LOC.NAM, less the 1 + 4 in the three rejected sentences
    Corpus(
        "weibo-ner/weiboNER.conll.dev",
        "weibo",
        "conll",
        {"PERSON": 101, "ORG": 37, "ADDRESS": 30},
        {6623: _NO_B, 8925: _NO_B, 9741: _NO_B},
    ),
    Corpus("resume-ner/dev.char.bmes", "resume", "conll", {"ORG": 523, "PERSON": 110, "ADDRESS": 2}),
    Corpus(
        "peoples-daily-ner/example.dev.first400", "peoples-daily", "conll", {"ADDRESS": 346, "ORG": 202, "PERSON": 156}
    ),
    Corpus(
        "presidio-research/synth_dataset_v2.first400.json",
        "presidio-research",
        "presidio",
        {"PERSON": 246, "ADDRESS": 156 + 106, "ORG": 70, "BANK_CARD": 34, "PHONE": 26, "EMAIL": 13, "IP": 2},
    ),
    Corpus(
        "presidio-research/generated_small.json",
        "presidio-research",
        "presidio",  # 55 PERSON, less the rejected one
        {"PERSON": 54, "ADDRESS": 46 + 24, "PHONE": 10, "BANK_CARD": 10, "ORG": 10, "IP": 2, "EMAIL": 2},
        {57: "the source's PERSON offsets are one character off (record 56 counted from 0)"},
    ),
    # one ID, e-mail, phone and address per record, the doctor once, the person at each mention (387)
    Corpus(
        "multipriv-zh/data_person_1000_zh.first200.json",
        "multipriv",
        "multipriv",
        {"PERSON": 200 + 387, "ADDRESS": 200, "EMAIL": 200, "PHONE": 200, "ID_CARD": 200},
    ),
)

NOT_CORPORA = {
    "cn-identifiers/identifiers.json": "identifiers with validity verdicts: the recognizers' peer suite reads them",
    "cn-intext-cases/cases.json": "sentences with expected hit counts: the recognizers' peer suite reads them",
}

_CJK_THEN_DIGIT = re.compile(r"[\u4e00-\u9fff](?=[0-9])")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def position_digits(text: str) -> bool:
    """True when most Chinese characters of the text are followed by a digit: the trace of
    character+position tokens joined as they are (``口0腔1``), which real prose never shows."""
    chinese = len(_CJK.findall(text))
    return chinese >= 4 and len(_CJK_THEN_DIGIT.findall(text)) * 2 >= chinese


@dataclass
class Result:
    corpus: Corpus
    read: int = 0
    written: int = 0
    types: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    rejects: dict[int, str] = field(default_factory=dict)
    not_slices: int = 0
    digit_texts: int = 0

    @property
    def unexplained(self) -> dict[int, str]:
        return {line: why for line, why in self.rejects.items() if line not in self.corpus.expected}

    @property
    def vanished(self) -> list[int]:
        return [line for line in self.corpus.expected if line not in self.rejects]

    @property
    def counts_differ(self) -> bool:
        return dict(self.types) != dict(self.corpus.types)

    @property
    def corruption(self) -> str:
        problems = [f"{self.not_slices} values not in text"] if self.not_slices else []
        problems += [f"{self.digit_texts} texts with position digits"] if self.digit_texts else []
        if self.counts_differ:
            problems.append(
                "entities differ from SOURCE.md's: "
                + ", ".join(f"{t} {n}" for t, n in sorted(self.corpus.types.items()))
            )
        return "; ".join(problems) or "ok"

    @property
    def ok(self) -> bool:
        return not (self.unexplained or self.vanished) and self.corruption == "ok"


def check(folder: Path, corpus: Corpus, work: Path) -> Result:
    """Convert one corpus into ``work`` and check what was written."""
    name = Path(corpus.path).name.replace(".", "_")
    options = ConvertOptions(
        name=name,
        out_dir=work,
        fmt=corpus.fmt,
        label_map=get_preset(corpus.preset),
        ratios=(1.0, 0.0, 0.0),
        dataset_info=None,
        skip_invalid=True,
        progress=False,
    )
    summary = convert([folder / corpus.path], options)
    result = Result(corpus, summary.read, summary.written, summary.types["train"], summary.dropped_labels)
    for row in iter_rows(summary.rejects_file):  # type: ignore[arg-type]
        result.rejects[row["line"]] = row["reason"]
    for row in iter_rows(summary.files["train"]):
        text = row["input"]
        result.not_slices += sum(e["value"] not in text for e in json.loads(row["output"])["entities"])
        result.digit_texts += position_digits(text)
    return result


def unlisted(folder: Path) -> list[str]:
    """Data files of the folder that neither list names (a new corpus must get a preset)."""
    known = {c.path for c in CORPORA} | set(NOT_CORPORA)
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix != ".md" and p.relative_to(folder).as_posix() not in known
    )


def report(folder: Path, results: list[Result], strays: list[str]) -> list[str]:
    def counts(counter: Counter[str]) -> str:
        return ", ".join(f"{k} {n}" for k, n in counter.most_common()) or "none"

    rows = [
        [
            f"`{r.corpus.path}`",
            r.corpus.preset,
            r.read,
            r.written,
            len(r.rejects),
            counts(r.types),
            counts(r.dropped),
            r.corruption,
        ]
        for r in results
    ]
    out = [
        f"Conformance of `{folder}` (every file converted with its preset; rejected = written to the rejects file)",
        "",
    ]
    out.append(
        markdown_table(
            ["file", "preset", "read", "written", "rejected", "entities by type", "dropped on purpose", "corruption"],
            rows,
        )
    )
    out += ["", "Rejections:"]
    for r in results:
        for line, reason in sorted(r.rejects.items()):
            why = r.corpus.expected.get(line)
            out.append(f"- `{r.corpus.path}:{line}`: {reason} -- " + (f"explained: {why}" if why else "NOT EXPLAINED"))
        out += [
            f"- `{r.corpus.path}:{line}`: expected a rejection ({r.corpus.expected[line]}), none happened"
            for line in r.vanished
        ]
    out += [f"- `{path}`: not a corpus here: {why}" for path, why in NOT_CORPORA.items()]
    out += [
        f"- `{path}`: a file no manifest entry names: give it a preset in converters/conformance.py" for path in strays
    ]
    return out


def run(folder: Path) -> tuple[list[str], bool]:
    """The report's lines and whether everything conforms."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (the folder of real corpora the manifest names)")
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        results = [check(folder, c, Path(tmp) / str(i)) for i, c in enumerate(CORPORA) if (folder / c.path).is_file()]
    missing = [c.path for c in CORPORA if not (folder / c.path).is_file()]
    strays = unlisted(folder)
    lines = report(folder, results, strays) + [f"- `{path}`: listed, but not in the folder" for path in missing]
    return lines, all(r.ok for r in results) and not strays and not missing
