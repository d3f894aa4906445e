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
    assert ft["n"] == 100 and 0.0 <= ft["accuracy"] <= 1.0
    md = load_model_dir(ft["out"])
    assert md.task == "classify" and md.labels == ["negative", "neutral", "positive"]
    assert md.model.get_layer("logits").units == 3
