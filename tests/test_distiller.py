import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.models.heads import mlm_head
from kbert.training.distiller import Distiller, distillation_view

V = 60


def _enc(layers, family="bert", **kw):
    preset = "bert_tiny" if family == "bert" else "distilbert_tiny"
    extra = {} if family == "bert" else dict(hidden_dim=128, num_heads=2, intermediate_dim=512)
    return kbert.models.backbone(preset, num_layers=layers, vocabulary_size=V, max_sequence_length=32,
                                 dropout=0.0, **{**extra, **kw})


def _mlm_batch(batch=4, seq=10, preds=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, V, size=(batch, seq)).astype("int32")
    mask = np.ones_like(ids)
    mask[1:, seq - 3:] = 0
    ids *= mask
    positions = np.tile(np.arange(1, preds + 1), (batch, 1)).astype("int32")
    labels = np.take_along_axis(ids, positions, 1)
    ids[np.arange(batch)[:, None], positions] = 4  # [MASK]
    x = {"token_ids": ids, "padding_mask": mask, "segment_ids": np.zeros_like(ids), "mask_positions": positions}
    y = {"mlm_ids": labels, "mlm_weights": np.ones(labels.shape, "float32")}
    return x, y


def _mlm_distiller(t_layers=2, s_layers=1, student_family="bert", **kw):
    teacher, student = _enc(t_layers), _enc(s_layers, student_family)
    d = Distiller(teacher, student, teacher_head=mlm_head(teacher), student_head=mlm_head(student), **kw)
    return d, teacher, student


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_loss_terms_match_a_numpy_reference():
    d, teacher, student = _mlm_distiller()
    d.compile(optimizer="adam")
    x, y = _mlm_batch()
    got = d.test_on_batch(x, y, return_dict=True)

    seq = x["token_ids"].shape[1]
    allpos = np.tile(np.arange(seq), (4, 1))
    feats = {k: x[k] for k in ("token_ids", "padding_mask", "segment_ids")}
    t = d.teacher_view({**feats, "mask_positions": allpos})
    s = d.student_view({**feats, "mask_positions": allpos})
    T, pad = 2.0, x["padding_mask"].astype(bool)
    lt, ls = _log_softmax(t["logits"].numpy() / T), _log_softmax(s["logits"].numpy() / T)
    kl = (np.exp(lt) * (lt - ls)).sum(-1) * T * T
    np.testing.assert_allclose(got["ce_loss"], kl[pad].mean(), rtol=1e-4)
    own = _log_softmax(np.take_along_axis(s["logits"].numpy(), x["mask_positions"][..., None], 1))
    xent = -np.take_along_axis(own, y["mlm_ids"][..., None], -1)
    np.testing.assert_allclose(got["mlm_loss"], xent.mean(), rtol=1e-4)
    hs, ht = s["hidden"][0].numpy(), t["hidden"][0].numpy()
    cos = (hs * ht).sum(-1) / np.linalg.norm(hs, axis=-1) / np.linalg.norm(ht, axis=-1)
    np.testing.assert_allclose(got["cos_loss"], (1 - cos)[pad].mean(), rtol=1e-4)
    np.testing.assert_allclose(got["loss"], 5 * got["ce_loss"] + 2 * got["mlm_loss"] + got["cos_loss"], rtol=1e-5)


def test_identical_student_has_zero_distillation_loss():
    teacher = _enc(2)
    student = _enc(2)
    student.set_weights(teacher.get_weights())
    t_head, s_head = mlm_head(teacher), mlm_head(student)
    d = Distiller(teacher, student, teacher_head=t_head, student_head=s_head)
    d.compile(optimizer="adam")
    x, y = _mlm_batch()
    d.test_on_batch(x, y)  # builds the heads
    s_head.set_weights(t_head.get_weights())
    got = d.test_on_batch(x, y, return_dict=True)
    assert got["ce_loss"] < 1e-6 and got["cos_loss"] < 1e-6


def test_fit_trains_student_only_and_reduces_loss():
    d, teacher, student = _mlm_distiller(t_layers=2, s_layers=1, student_family="distilbert")
    d.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y = _mlm_batch()
    before_t = [w.copy() for w in teacher.get_weights()]
    before_s = [w.copy() for w in student.get_weights()]
    hist = d.fit(x, y, epochs=8, verbose=0).history
    assert set(hist) == {"loss", "ce_loss", "mlm_loss", "cos_loss", "accuracy"}
    assert hist["loss"][-1] < hist["loss"][0]
    assert all(np.array_equal(a, b) for a, b in zip(before_t, teacher.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(before_s, student.get_weights()))
    assert not teacher.trainable and not d.teacher_view.trainable_variables


def test_masked_positions_option_changes_ce():
    x, y = _mlm_batch()
    all_d, teacher, student = _mlm_distiller()
    masked = Distiller(teacher, student, teacher_head=all_d.teacher_head, student_head=all_d.student_head,
                       ce_positions="masked")
    for d in (all_d, masked):
        d.compile(optimizer="adam")
    a = all_d.test_on_batch(x, y, return_dict=True)
    m = masked.test_on_batch(x, y, return_dict=True)
    assert a["ce_loss"] != pytest.approx(m["ce_loss"])
    assert a["mlm_loss"] == pytest.approx(m["mlm_loss"], rel=1e-5)  # same heads, same masked positions


def test_task_distillation_soft_and_hard_labels():
    from kbert.tasks.classifier import build_classifier

    t_enc = _enc(2)
    teacher = build_classifier(t_enc, 3)
    student = build_classifier(_enc(1, "distilbert"), 3)
    d = Distiller(teacher, student, layer_map=[(0, 1)])
    d.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    x = kbert.models.dummy_inputs(t_enc, 8, 10)
    labels = np.arange(8) % 3
    hist = d.fit(x, labels, epochs=10, verbose=0).history
    assert hist["mlm_loss"][0] > 0 and hist["loss"][-1] < hist["loss"][0]
    soft = d.fit(x, epochs=1, verbose=0).history  # no labels: soft labels only
    assert soft["mlm_loss"] == [0.0] and soft["ce_loss"][0] > 0
    # the view runs the classifier's own head: logits equal the student model's
    np.testing.assert_allclose(d.student_view(d._student_inputs(x))["logits"].numpy(),
                               student({k: x[k] for k in ("token_ids", "padding_mask")})["logits"].numpy(),
                               atol=1e-5)


def test_intermediate_layers_view():
    teacher = _enc(3)
    view = distillation_view(teacher, mlm_head(teacher), layers=[0, 2])
    x = kbert.models.dummy_inputs(teacher, 2, 8)
    out = view({**x, "mask_positions": np.array([[1], [2]])})
    assert len(out["hidden"]) == 2 and out["logits"].shape == (2, 1, V)
    np.testing.assert_allclose(out["hidden"][1].numpy(), teacher(x)["sequence_output"].numpy(), atol=1e-5)


def test_bad_configurations_are_clear_errors():
    teacher = _enc(2)
    narrow = kbert.models.backbone("bert_tiny", num_layers=1, vocabulary_size=V, hidden_dim=64, num_heads=2,
                                   intermediate_dim=128)
    with pytest.raises(KbertInputError, match="gamma=0"):
        Distiller(teacher, narrow, mlm_head(teacher), mlm_head(narrow))
    Distiller(teacher, narrow, mlm_head(teacher), mlm_head(narrow), gamma=0.0)  # fine without L_cos
    with pytest.raises(KbertInputError, match="MLM head"):
        Distiller(teacher, _enc(1))
    with pytest.raises(KbertInputError, match="ce_positions"):
        Distiller(teacher, _enc(1), mlm_head(teacher), ce_positions="some")
    d, _, _ = _mlm_distiller()
    d.compile(optimizer="adam")
    x, y = _mlm_batch()
    del x["mask_positions"]
    with pytest.raises(KbertInputError, match="mask_positions"):
        d.train_on_batch(x, y)


def test_get_config_round_trip():
    d, _, _ = _mlm_distiller(temperature=3.0, alpha=1.0, ce_positions="masked", layer_map=[(0, 1)])
    config = d.get_config()
    clone = Distiller.from_config(config)
    for key in ("temperature", "alpha", "beta", "gamma", "ce_positions"):
        assert getattr(clone, key) == getattr(d, key)
    assert clone.layer_map == ((0, 1),) and len(clone.student.transformer_layers) == 1
    clone.compile(optimizer="adam")
    assert np.isfinite(clone.train_on_batch(*_mlm_batch(), return_dict=True)["loss"])


def test_mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        d, _, student = _mlm_distiller()
        d.compile(optimizer=keras.optimizers.Adam(1e-3))
        assert isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer)
        logs = d.fit(*_mlm_batch(), epochs=2, verbose=0).history
        assert student.compute_dtype == "float16"
        assert all(np.isfinite(v[-1]) for v in logs.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


MIRRORED = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import kbert
    from kbert.models.heads import mlm_head
    from kbert.training.distiller import Distiller
    from tests.test_distiller import _enc, _mlm_batch
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = _mlm_batch(batch=8)
    results = []
    for strat in (strategy, tf.distribute.get_strategy()):
        keras.utils.set_random_seed(1)
        with strat.scope():
            t, s = _enc(2), _enc(1)
            d = Distiller(t, s, mlm_head(t), mlm_head(s))
            d.compile(optimizer=keras.optimizers.SGD(0.1))
        h = d.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
        results.append(h["loss"])
    print("REPLICAS", strategy.num_replicas_in_sync, "LOSSES", results)
    np.testing.assert_allclose(results[0], results[1], rtol=2e-3)
""")


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", MIRRORED], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "REPLICAS 2" in proc.stdout
