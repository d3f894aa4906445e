import keras
import numpy as np
import pytest
import tensorflow as tf

import kbert
from kbert.training.pretrainer import AlbertPretrainer, BertPretrainer, pretrainer_for

V, L, P, B = 300, 16, 4, 8


def batch(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, V, size=(B, L)).astype("int32")
    pos = np.sort(rng.choice(np.arange(1, L - 1), size=(B, P)), axis=1).astype("int32")
    x = {"token_ids": ids, "padding_mask": np.ones((B, L), "int32"),
         "segment_ids": np.concatenate([np.zeros((B, L // 2)), np.ones((B, L // 2))], 1).astype("int32"),
         "mask_positions": pos}
    y = {"mlm_ids": np.take_along_axis(ids, pos, 1), "mlm_weights": np.ones((B, P), "float32"),
         "pair_label": (np.arange(B) % 2).astype("int32")}
    x["token_ids"] = x["token_ids"].copy()
    np.put_along_axis(x["token_ids"], pos, 4, 1)
    return x, y


def small(preset="bert_tiny", **kw):
    over = dict(vocabulary_size=V, num_layers=1, dropout=0.0)
    if preset.startswith("albert"):
        over.update(num_groups=1, num_inner_repetitions=1)
    over.update(kw)
    return kbert.models.backbone(preset, **over)


def dataset(n=4):
    xs, ys = zip(*[batch(i) for i in range(n)])
    x = {k: np.concatenate([d[k] for d in xs]) for k in xs[0]}
    y = {k: np.concatenate([d[k] for d in ys]) for k in ys[0]}
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(B)


def test_bert_pretrainer_learns_and_reports_metrics():
    keras.utils.set_random_seed(0)
    model = BertPretrainer(small())
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y = batch()
    first = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(first) == {"loss", "mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy"}
    assert abs(first["mlm_loss"] - np.log(V)) < 1.0
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(40), verbose=0)
    last = model.evaluate(x, y, verbose=0, return_dict=True)
    assert last["mlm_loss"] < 0.5 * first["mlm_loss"] and last["mlm_accuracy"] > 0.5
    assert last["loss"] == pytest.approx(last["mlm_loss"] + last["nsp_loss"], rel=1e-4)


def test_mlm_decoder_is_tied_to_the_input_embedding():
    model = AlbertPretrainer(small("albert_tiny"))
    emb = model.backbone.token_embedding
    x, _ = batch()
    before = model(x)["mlm_logits"]
    emb.embeddings.assign(emb.embeddings * 2.0)
    after = model(x)["mlm_logits"]
    assert not np.allclose(before, after)
    kernels = [w for w in model.mlm_head.weights if tuple(w.shape) == (emb.embeddings.shape[1], V)]
    assert not kernels  # no untied [E, V] output matrix of its own
    assert model.pair_head.name == "sop_head"


def test_weights_only_masked_positions_count():
    model = BertPretrainer(small())
    x, y = batch()
    y2 = dict(y, mlm_weights=np.concatenate([np.ones((B, 1)), np.zeros((B, P - 1))], 1).astype("float32"),
              mlm_ids=np.concatenate([y["mlm_ids"][:, :1], np.full((B, P - 1), 7)], 1).astype("int32"))
    out = model(x)
    l1, p1 = model.losses_and_metrics({**y, "mlm_ids": y["mlm_ids"][:, :1], "mlm_weights": y2["mlm_weights"][:, :1]},
                                      {**out, "mlm_logits": out["mlm_logits"][:, :1]})
    l2, p2 = model.losses_and_metrics(y2, out)
    assert float(p1["mlm_loss"]) == pytest.approx(float(p2["mlm_loss"]), rel=1e-5)


def test_save_load_keras_roundtrip(tmp_path):
    model = AlbertPretrainer(small("albert_tiny"), mlm_weight=1.0, pair_weight=0.5)
    model.compile(optimizer="adam")
    model.fit(dataset(2), verbose=0)
    path = str(tmp_path / "p.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, AlbertPretrainer) and loaded.pair_weight == 0.5 and loaded.pair_task == "sop"
    x, _ = batch(3)
    for k in ("mlm_logits", "pair_logits"):
        np.testing.assert_allclose(model(x)[k], loaded(x)[k], atol=1e-6)


def test_jit_compile_and_mixed_precision():
    keras.utils.set_random_seed(1)
    model = BertPretrainer(small())
    model.compile(optimizer="adam", jit_compile=True)
    h = model.fit(dataset(3), epochs=2, verbose=0)
    assert np.isfinite(h.history["loss"]).all() and h.history["loss"][1] < h.history["loss"][0]
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = AlbertPretrainer(small("albert_tiny"))
        model.compile(optimizer="adam")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.backbone.compute_dtype == "float16" and model.backbone.variable_dtype == "float32"
        assert model(batch()[0])["mlm_logits"].dtype == "float32"  # the MLM head and losses stay float32
        h = model.fit(dataset(3), epochs=2, verbose=0)
        assert np.isfinite(h.history["loss"]).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_family_dispatch_and_distilbert_rejected():
    assert isinstance(pretrainer_for(small("albert_tiny")), AlbertPretrainer)
    bert_sop = pretrainer_for(small(), objective="sop")
    assert isinstance(bert_sop, BertPretrainer) and bert_sop.pair_task == "sop"
    with pytest.raises(ValueError, match="DistilBERT"):
        BertPretrainer(kbert.models.backbone("distilbert_tiny", vocabulary_size=V, num_layers=1))
