import os

import pytest

from piifactory.io import InputError, atomic_open, atomic_write_lines, iter_jsonl


def test_atomic_write_leaves_nothing_on_failure(tmp_path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_atomic_write_has_normal_permissions(tmp_path) -> None:
    assert atomic_write_lines(tmp_path / "a.txt", ["x", "y"]) == 2
    mode = (tmp_path / "a.txt").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_iter_jsonl_accepts_bom_crlf_and_names_bad_lines(tmp_path) -> None:
    good = tmp_path / "g.jsonl"
    good.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n{"a": 2}\r\n')
    assert list(iter_jsonl(good)) == [(1, {"a": 1}), (3, {"a": 2})]
    bad = tmp_path / "b.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"a": \n')
    with pytest.raises(InputError, match=r"b.jsonl:2: invalid JSON"):
        list(iter_jsonl(bad))
    latin = tmp_path / "l.jsonl"
    latin.write_bytes(b'{"a": "\xe9"}\n')
    with pytest.raises(InputError, match=r"l.jsonl:1: not UTF-8"):
        list(iter_jsonl(latin))


def test_atomic_folder_replaces_the_whole_folder_or_nothing(tmp_path) -> None:
    """A folder output (tokenizer, model) is the old one or the complete new one, never a mix."""
    from piifactory.io import atomic_folder

    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("killed midway")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_folder(target) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert oct(target.stat().st_mode & 0o777) == "0o755"
