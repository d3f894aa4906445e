"""BERT and ALBERT pretraining as `keras.Model`s with their own `train_step` / `test_step`.

- `BertPretrainer`: masked LM + next-sentence prediction (NSP), Devlin et al. 2019.
- `AlbertPretrainer`: masked LM + sentence-order prediction (SOP), Lan et al. 2020.

Both wrap any kbert backbone (BERT or ALBERT family: they need `segment_ids` and a pooled [CLS]
output), decode masked positions with `kbert.models.heads.mlm_head` (output projection tied to the
input token embedding), and train with plain `model.fit` on the `(features, labels)` batches of
`kbert.data.pretraining.pretraining_dataset`:

    >>> import keras, kbert
    >>> from kbert.training.pretrainer import AlbertPretrainer
    >>> model = AlbertPretrainer(kbert.models.backbone("albert_tiny", vocabulary_size=500, num_layers=1))
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> x = {"token_ids": keras.ops.ones((2, 16), "int32"), "padding_mask": keras.ops.ones((2, 16), "int32"),
    ...      "segment_ids": keras.ops.zeros((2, 16), "int32"), "mask_positions": keras.ops.ones((2, 3), "int32")}
    >>> y = {"mlm_ids": keras.ops.ones((2, 3), "int32"), "mlm_weights": keras.ops.ones((2, 3)),
    ...      "pair_label": keras.ops.zeros((2,), "int32")}
    >>> sorted(model.train_on_batch(x, y, return_dict=True))
    ['loss', 'mlm_accuracy', 'mlm_loss', 'sop_accuracy', 'sop_loss']

Losses: `loss = mlm_weight * mlm_loss + pair_weight * pair_loss`; `mlm_loss` is the cross-entropy averaged
over real masked positions (`mlm_weights`), computed in float32 (safe under `mixed_float16`, where
`compile` wraps the optimizer in a `LossScaleOptimizer` and `train_step` scales the loss).

Distribution: build and compile inside `strategy.scope()` and call `fit` as usual; each replica's
loss is divided by `num_replicas_in_sync` because Keras sums gradients across replicas. Tested with
`MirroredStrategy` (2 logical CPU devices), `MultiWorkerMirroredStrategy` (2 processes, `TF_CONFIG`)
and `jit_compile=True`. On a Cloud TPU the same code runs under `TPUStrategy`:

    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="")   # or the TPU's name
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    with tf.distribute.TPUStrategy(resolver).scope():
        model = BertPretrainer(kbert.models.backbone("bert_base")); model.compile(...)
    model.fit(dataset, steps_per_epoch=..., epochs=...)   # batches have static shapes (drop_remainder)

(on TPUs read data from GCS, e.g. TFRecords or TFDS with `data_dir="gs://..."`, since TPU hosts cannot
read local files).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kbert._compat.keras_engine import FirstReplicaBuild, in_multi_worker_mode
from kbert.models.heads import SentencePairHead, mlm_head


class Pretrainer(FirstReplicaBuild, keras.Model):
    """MLM + a sentence-pair objective over a backbone; see `BertPretrainer` / `AlbertPretrainer`.

    Args:
        backbone: a kbert BERT or ALBERT backbone (functional keras-hub backbone).
        pair_task: "nsp" or "sop" (names the metrics and the pair head).
        mlm_weight, pair_weight: loss weights.
    """

    pair_task = "nsp"

    def __init__(self, backbone, mlm_weight: float = 1.0, pair_weight: float = 1.0, pair_task: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if "segment_ids" not in getattr(backbone, "input", {}) or not isinstance(backbone.output, dict):
            raise ValueError(f"{type(self).__name__} needs a BERT or ALBERT backbone with segment_ids and a "
                             "pooled output (DistilBERT has neither: distil it instead)")
        self.pair_task = pair_task or type(self).pair_task
        self.backbone = backbone
        self.mlm_weight = float(mlm_weight)
        self.pair_weight = float(pair_weight)
        self.mlm_head = mlm_head(backbone)  # computes in float32 under mixed precision
        self.pair_head = SentencePairHead(name=f"{self.pair_task}_head", dtype=backbone.dtype_policy)
        hidden = backbone.hidden_dim
        self.mlm_head.build((None, None, hidden), (None, None))
        self.pair_head.build((None, hidden))
        names = ["loss", "mlm_loss", "mlm_accuracy", f"{self.pair_task}_loss", f"{self.pair_task}_accuracy"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.built = True

    def call(self, inputs, training=False):
        out = self.backbone(
            {k: inputs[k] for k in ("token_ids", "padding_mask", "segment_ids")}, training=training)
        mlm_logits = self.mlm_head(out["sequence_output"], mask_positions=inputs["mask_positions"])
        return {
            "mlm_logits": mlm_logits,
            "pair_logits": self.pair_head(out["pooled_output"]),
        }

    def losses_and_metrics(self, labels, outputs):
        """Per-objective losses (float32 scalars) and accuracy terms."""
        mlm_logits = tf.cast(outputs["mlm_logits"], tf.float32)
        pair_logits = tf.cast(outputs["pair_logits"], tf.float32)
        mlm_ids = tf.cast(labels["mlm_ids"], tf.int32)
        weights = tf.cast(labels["mlm_weights"], tf.float32)
        pair_label = tf.cast(tf.reshape(labels["pair_label"], [-1]), tf.int32)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=mlm_ids, logits=mlm_logits)
        n = tf.reduce_sum(weights)
        mlm_loss = tf.reduce_sum(ce * weights) / tf.maximum(n, 1.0)
        mlm_correct = tf.cast(tf.equal(tf.argmax(mlm_logits, -1, output_type=tf.int32), mlm_ids), tf.float32)
        pair_loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pair_label, logits=pair_logits))
        pair_correct = tf.cast(tf.equal(tf.argmax(pair_logits, -1, output_type=tf.int32), pair_label), tf.float32)
        loss = self.mlm_weight * mlm_loss + self.pair_weight * pair_loss
        return loss, dict(mlm_loss=mlm_loss, mlm_correct=mlm_correct, weights=weights, pair_loss=pair_loss,
                          pair_correct=pair_correct)

    def _update(self, loss, parts):
        t = self.trackers
        t["loss"].update_state(loss)
        t["mlm_loss"].update_state(parts["mlm_loss"])
        t["mlm_accuracy"].update_state(parts["mlm_correct"], sample_weight=parts["weights"])
        t[f"{self.pair_task}_loss"].update_state(parts["pair_loss"])
        t[f"{self.pair_task}_accuracy"].update_state(parts["pair_correct"])
        results = {name: m.result() for name, m in t.items()}
        strategy = tf.distribute.get_strategy()
        multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if multi_worker and in_multi_worker_mode(strategy):
            # Keras reduces multi-worker logs with `strategy.reduce("MEAN", v, axis=0)`, which needs a batch
            # axis (a scalar fails: "Invalid reduction dimension 0"); [1] per replica -> the global mean scalar.
            results = {name: tf.reshape(v, [1]) for name, v in results.items()}
        return results

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            outputs = self(x, training=True)
            loss, parts = self.losses_and_metrics(y, outputs)
            scaled = loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)
            if self.optimizer is not None:
                scaled = self.optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update(loss, parts)

    def test_step(self, data):
        x, y = data[0], data[1]
        outputs = self(x, training=False)
        loss, parts = self.losses_and_metrics(y, outputs)
        return self._update(loss, parts)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "mlm_weight": self.mlm_weight,
            "pair_weight": self.pair_weight,
            "pair_task": self.pair_task,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kbert")
class BertPretrainer(Pretrainer):
    """BERT pretraining: masked LM + next-sentence prediction (metrics `nsp_loss`, `nsp_accuracy`).

    Train on `pretraining_dataset(..., objective="nsp")`. See the module docstring for an example.
    """

    pair_task = "nsp"


@keras.saving.register_keras_serializable(package="kbert")
class AlbertPretrainer(Pretrainer):
    """ALBERT pretraining: masked LM + sentence-order prediction (metrics `sop_loss`, `sop_accuracy`).

    Train on `pretraining_dataset(..., objective="sop")` (n-gram masking by default).
    """

    pair_task = "sop"


def pretrainer_for(backbone, objective: str | None = None, **kwargs) -> Pretrainer:
    """`BertPretrainer` for BERT backbones (NSP), `AlbertPretrainer` for ALBERT (SOP), unless `objective`
    ("nsp" / "sop") says otherwise (the SOP-vs-NSP comparison trains one backbone both ways)."""
    from kbert.models import family_of

    family = family_of(backbone)
    objective = objective or ("sop" if family == "albert" else "nsp")
    cls = AlbertPretrainer if family == "albert" else BertPretrainer
    return cls(backbone, pair_task=objective, **kwargs)
