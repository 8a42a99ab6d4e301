import json

from eval.scoring.curves import log_history, main, series


def _state(tmp_path, history):
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": history}), encoding="utf-8")


def test_series_and_png(tmp_path) -> None:
    history = [
        {"step": 10, "loss": 3.0},
        {"step": 20, "loss": 2.0},
        {"step": 20, "eval_loss": 2.1, "eval_entity_f1": 0.4, "eval_entity_recall": 0.3},
        {"step": 40, "eval_loss": 1.1, "eval_entity_f1": 0.8, "eval_entity_recall": 0.75},
    ]
    _state(tmp_path, history)
    assert series(log_history(tmp_path), "eval_entity_f1") == ([20, 40], [0.4, 0.8])
    assert series(history, "loss") == ([10, 20], [3.0, 2.0])
    assert main([str(tmp_path)]) == 0
    png = (tmp_path / "training_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_falls_back_to_newest_checkpoint_and_reports_missing(tmp_path, capsys) -> None:
    for step, loss in ((5, 9.0), (50, 1.0)):
        ckpt = tmp_path / f"checkpoint-{step}"
        ckpt.mkdir()
        (ckpt / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": step, "loss": loss}]}))
    assert series(log_history(tmp_path), "loss") == ([50], [1.0])
    assert main([str(tmp_path / "nothing")]) == 2
    assert "no trainer_state.json" in capsys.readouterr().err
