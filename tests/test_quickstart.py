import json

import pytest

from kbert import cli
from kbert.model_dir import load_model_dir

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.slow
def test_quickstart_smoke_finetunes_real_minilm(tmp_path, capsys):
    code = cli.main(["--json", "quickstart", "--smoke", "--out", str(tmp_path)])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["related_closer"]
    ft = out["finetune"]
    assert ft["n"] == 300 and 0.0 <= ft["accuracy"] <= 1.0
    md = load_model_dir(ft["out"])
    assert md.task == "classify" and md.labels == ["negative", "neutral", "positive"]
    assert md.model.get_layer("logits").units == 3
    # the phone model: the smallest mode that passed the gate on the 300 validation tweets, at the
    # trained length, labelled like Keras by MediaPipe on the raw strings; every mode tried is listed
    tfl = out["tflite"]
    assert tfl["seq_len"] == 32 and tfl["examples"] == 300 and tfl["metric_drop_ci95"][1] <= 1.0
    assert [r["mode"] for r in tfl["modes"]] == ["dynamic-int8", "float16", "float32"][:len(tfl["modes"])]
    assert tfl["modes"][-1]["passed"] and not any(r["passed"] for r in tfl["modes"][:-1])
    (check,) = tfl["runtime_checks"].values()
    assert check["runtime"].startswith("mediapipe") and check["passed"]
    card = json.load(open(tfl["path"][: -len(".tflite")] + ".json"))
    assert card["heldout"]["kind"] == "labelled" and card["training_data"]["name"] == "tweets"
    assert card["training_data"]["licence"].startswith("unclear")
