import pytest

from kbert.training.curves import plot_history


@pytest.mark.parametrize("x_key,rows", [
    ("epoch", "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate\n0,0.5,0.9,0.4,1.0,0.001\n1,0.7,0.6,0.6,0.8,0.001\n"),
    ("step", "step,loss,mlm_loss,mlm_accuracy,sop_loss,sop_accuracy\n10,7.1,6.4,0.01,0.69,0.5\n20,6.3,5.6,0.05,0.69,0.52\n"),
])
def test_plot_history_draws_losses_and_metrics(tmp_path, x_key, rows):
    from PIL import Image

    (tmp_path / "h.csv").write_text(rows)
    png = plot_history(tmp_path / "h.csv", tmp_path / "h.png", x_key=x_key)
    with Image.open(png) as im:
        assert im.size[0] > 1.5 * im.size[1]  # two panels side by side: losses, metrics


def test_plot_history_empty_and_losses_only(tmp_path):
    (tmp_path / "e.csv").write_text("epoch,loss\n")
    assert plot_history(tmp_path / "e.csv", tmp_path / "e.png") is None
    (tmp_path / "l.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    from PIL import Image

    with Image.open(plot_history(tmp_path / "l.csv", tmp_path / "l.png")) as im:
        assert im.size[0] < 1.5 * im.size[1]  # one panel
