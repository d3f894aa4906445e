"""Knowledge distillation (DistilBERT's triple loss) as a `keras.Model` you train with `fit`.

    L = alpha * L_ce + beta * L_mlm + gamma * L_cos

- `L_ce`: KL(teacher || student) between the distributions softened by temperature `T`, times T²
  (Hinton et al.). For MLM distillation the distributions are over the vocabulary at every
  non-padding position (`ce_positions="masked"`: masked positions only); for task distillation
  over the classes.
- `L_mlm`: the student's own loss on the true labels: masked-LM cross-entropy on the masked
  positions, or the hard-label classification loss (skipped when the batch has no labels).
- `L_cos`: 1 - cos(student hidden, teacher hidden) averaged over non-padding positions, for the
  last layers (default) or for aligned (student layer, teacher layer) pairs of equal width.

Defaults are the DistilBERT recipe: T=2, alpha=5, beta=2, gamma=1. The teacher is frozen and
runs once per step in inference mode (`training=False`, outside the gradient tape, no dropout).

MLM distillation (teacher and student are encoders, each with a tied MLM head):

    >>> import kbert, keras
    >>> from kbert.models.heads import mlm_head
    >>> teacher = kbert.models.backbone("bert_tiny", vocabulary_size=100, num_layers=2)
    >>> student = kbert.models.backbone("bert_tiny", vocabulary_size=100, num_layers=1)
    >>> d = Distiller(teacher, student, teacher_head=mlm_head(teacher), student_head=mlm_head(student))
    >>> d.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = {**kbert.models.dummy_inputs(teacher, 2, 8), "mask_positions": [[1, 2], [2, 3]]}
    >>> y = {"mlm_ids": [[5, 6], [7, 8]], "mlm_weights": [[1.0, 1.0], [1.0, 0.0]]}
    >>> sorted(d.train_on_batch(x, y, return_dict=True))
    ['accuracy', 'ce_loss', 'cos_loss', 'loss', 'mlm_loss']

Task distillation: pass two task models that follow kbert's contract (outputs `{"logits"}`),
e.g. a fine-tuned classifier teacher and a smaller classifier student; `y` is the integer label
(hard labels, optional: `beta=0` or no `y` distils on soft labels only).

Data for MLM distillation: `x = {token_ids (masked), padding_mask[, segment_ids], mask_positions}`,
`y = {"mlm_ids", "mlm_weights"}` exactly as `kbert.data.pretraining.Masker` produces them.
Features a model does not take (DistilBERT has no `segment_ids`) are dropped per model.

Why not `keras.distillation.Distiller` (Keras >= 3.12)? Read against Keras 3.15's source, it does not fit
this recipe, so kbert keeps its own `train_step` (and adds what Keras' lacks: the MLM term on masked
positions and `kbert.training.student_init`):
- its losses see only (teacher outputs, student outputs): no padding mask, so `L_ce` over all positions
  and `L_cos` would average over padding (most of a batch of short texts);
- teacher and student must take the same inputs (a DistilBERT student has no `segment_ids`);
- `FeatureDistillation` finds layers with `model.get_layer(name)`, i.e. top-level layers only, not the
  transformer layers inside a task model's keras-hub backbone, and runs the student a second time to
  extract them (here logits and hidden states come from one pass);
- the supervised weight is a convex `student_loss_weight` in [0, 1], not DistilBERT's alpha/beta/gamma.
"""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf

from kbert._compat.keras_engine import run_graph_with
from kbert.errors import KbertInputError

ENCODER_INPUTS = ("token_ids", "padding_mask", "segment_ids")
CE_POSITIONS = ("all", "masked")


def find_backbone(model):
    """The keras-hub backbone inside `model` (or `model` itself)."""
    if isinstance(model, keras_hub.models.Backbone):
        return model
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras_hub.models.Backbone):
            return layer
    raise KbertInputError(f"{getattr(model, 'name', model)!r} holds no BERT / DistilBERT / ALBERT backbone")


def hidden_states_model(backbone, layers=(-1,)) -> keras.Model:
    """A functional view of `backbone` returning `{"outputs": <its usual outputs>, "hidden": [...]}`,
    where `hidden` are the outputs of `backbone.transformer_layers[i]` for `i` in `layers`.
    Shares the backbone's weights (nothing is copied)."""
    n = len(backbone.transformer_layers)
    for i in layers:
        if not -n <= i < n:
            raise KbertInputError(f"layer {i} out of range for a {n}-layer {backbone.name}")
    hidden = [backbone.transformer_layers[i].output for i in layers]
    return keras.Model(backbone.inputs, {"outputs": backbone.outputs if not isinstance(backbone.output, dict)
                                         else backbone.output, "hidden": hidden},
                       name=f"{backbone.name}_hidden_states")


def distillation_view(model, head=None, layers=(-1,)) -> keras.Model:
    """A functional model `inputs -> {"logits", "hidden": [..]}` over `model`'s own layers.

    - `model` an encoder and `head` a `MaskedLMHead`: inputs are the encoder's plus
      `mask_positions` [B, P]; logits [B, P, vocab].
    - `model` a task model (outputs `{"logits"}`) around a backbone: the task model's graph is run
      once with its backbone swapped for `hidden_states_model(backbone, layers)`, so logits and
      hidden states come from one forward pass.
    """
    backbone = find_backbone(model)
    view = hidden_states_model(backbone, layers)
    if model is backbone:
        inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in backbone.input}
        out = view(inputs)
        if head is None:
            raise KbertInputError("an encoder teacher/student needs an MLM head (kbert.models.heads.mlm_head)")
        inputs["mask_positions"] = keras.Input((None,), dtype="int32", name="mask_positions")
        seq = out["outputs"]["sequence_output"] if isinstance(out["outputs"], dict) else out["outputs"]
        if isinstance(seq, (list, tuple)):
            seq = seq[0]
        logits = head(seq, mask_positions=inputs["mask_positions"])
        return keras.Model(inputs, {"logits": logits, "hidden": out["hidden"]}, name=f"{model.name}_distill")
    if not isinstance(model.output, dict) or "logits" not in model.output:
        raise KbertInputError(f"task model {model.name!r} must output a dict with 'logits'")
    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in model.input}
    captured = {}

    def swap(op):
        if op is not backbone:
            return op

        def call(*args, **kwargs):
            kwargs.pop("training", None)
            out = view(*args, **kwargs)
            captured["hidden"] = out["hidden"]
            outputs = out["outputs"]
            return outputs[0] if isinstance(outputs, (list, tuple)) else outputs

        return call

    outputs = run_graph_with(model, inputs, swap)  # Keras' own graph runner
    if "hidden" not in captured:
        raise KbertInputError(f"could not trace the backbone of {model.name!r}")
    return keras.Model(inputs, {"logits": outputs["logits"], "hidden": captured["hidden"]},
                       name=f"{model.name}_distill")


def _select(features, view):
    return {k: features[k] for k in view.input if k in features}


def _masked_mean(values, weights):
    weights = tf.cast(weights, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values * weights), tf.reduce_sum(weights))


@keras.saving.register_keras_serializable(package="kbert")
class Distiller(keras.Model):
    """Train `student` to mimic a frozen `teacher` with DistilBERT's triple loss.

    Args:
        teacher: an encoder (MLM distillation, give `teacher_head`) or a task model with a
            `{"logits"}` output (task distillation). Frozen here (`trainable=False`).
        student: same kind as the teacher; its depth and width may differ (`L_cos` needs equal
            widths at the compared layers; set `gamma=0` otherwise).
        teacher_head, student_head: `kbert.models.heads.mlm_head(...)` for MLM distillation.
        temperature: T, softens both distributions in `L_ce`.
        alpha, beta, gamma: weights of `L_ce`, `L_mlm` (own / hard-label loss) and `L_cos`.
        ce_positions: "all" (every non-padding position, the recipe) or "masked" (masked positions
            only; much cheaper with a large vocabulary). MLM distillation only.
        layer_map: (student_layer, teacher_layer) pairs compared by `L_cos`; default the last
            layer of each: `((-1, -1),)`. E.g. a 3-layer student of a 6-layer teacher initialised
            with `student_init` can align `((0, 0), (1, 2), (2, 5))`.
    """

    def __init__(self, teacher, student, teacher_head=None, student_head=None, temperature=2.0, alpha=5.0,
                 beta=2.0, gamma=1.0, ce_positions="all", layer_map=((-1, -1),), **kwargs):
        super().__init__(**kwargs)
        if ce_positions not in CE_POSITIONS:
            raise KbertInputError(f"ce_positions must be one of {CE_POSITIONS}, got {ce_positions!r}")
        if temperature <= 0:
            raise KbertInputError(f"temperature must be > 0, got {temperature}")
        if min(alpha, beta, gamma) < 0 or alpha + beta + gamma == 0:
            raise KbertInputError(f"loss weights must be >= 0 and not all 0, got {alpha}, {beta}, {gamma}")
        self.teacher, self.student = teacher, student
        self.teacher_head, self.student_head = teacher_head, student_head
        self.mlm = isinstance(teacher, keras_hub.models.Backbone)
        if self.mlm != isinstance(student, keras_hub.models.Backbone):
            raise KbertInputError("teacher and student must both be encoders (MLM) or both task models")
        self.temperature, self.alpha, self.beta, self.gamma = float(temperature), float(alpha), float(beta), \
            float(gamma)
        self.ce_positions = ce_positions
        self.layer_map = tuple((int(s), int(t)) for s, t in layer_map)
        t_backbone, s_backbone = find_backbone(teacher), find_backbone(student)
        if self.gamma > 0:
            for s, t in self.layer_map:
                if s_backbone.hidden_dim != t_backbone.hidden_dim:
                    raise KbertInputError(
                        f"L_cos compares hidden states: student width {s_backbone.hidden_dim} != teacher "
                        f"width {t_backbone.hidden_dim}; use gamma=0")
        if self.mlm and s_backbone.vocabulary_size != t_backbone.vocabulary_size:
            raise KbertInputError(f"MLM distillation needs one vocabulary: teacher {t_backbone.vocabulary_size} "
                                  f"vs student {s_backbone.vocabulary_size} tokens")
        teacher.trainable = False
        if teacher_head is not None:
            teacher_head.trainable = False
        self.teacher_view = distillation_view(teacher, teacher_head, [t for _, t in self.layer_map])
        self.teacher_view.trainable = False  # the head's sublayers exist only once the view is built
        self.student_view = distillation_view(student, student_head, [s for s, _ in self.layer_map])
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ce_tracker = keras.metrics.Mean(name="ce_loss")
        self.mlm_tracker = keras.metrics.Mean(name="mlm_loss")
        self.cos_tracker = keras.metrics.Mean(name="cos_loss")
        self.accuracy = keras.metrics.Mean(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.ce_tracker, self.mlm_tracker, self.cos_tracker, self.accuracy]

    def call(self, inputs, training=False):
        return self.student_view(self._student_inputs(inputs), training=training)

    # --- inputs --------------------------------------------------------------------------------
    def _ce_positions(self, x):
        """Positions at which the heads are evaluated: all of them, or the masked ones."""
        if not self.mlm or self.ce_positions == "masked":
            return x.get("mask_positions")
        shape = tf.shape(x["token_ids"])
        return tf.tile(tf.range(shape[1])[None, :], [shape[0], 1])

    def _student_inputs(self, x, positions=None):
        out = _select(x, self.student_view)
        if self.mlm:
            out["mask_positions"] = positions if positions is not None else self._ce_positions(x)
        return out

    def _teacher_inputs(self, x, positions):
        out = _select(x, self.teacher_view)
        if self.mlm:
            out["mask_positions"] = positions
        return out

    # --- losses --------------------------------------------------------------------------------
    def _loss_terms(self, x, y, t_out, s_out, sample_weight=None):
        f32 = lambda v: tf.cast(v, "float32")  # noqa: E731  (losses in float32 under mixed precision)
        T = self.temperature
        padding = f32(x["padding_mask"])
        s_logits, t_logits = f32(s_out["logits"]), f32(t_out["logits"])
        labels, weights = y, None
        if isinstance(y, dict):
            labels = y.get("mlm_ids", y.get("labels", y.get("logits")))
            weights = y.get("mlm_weights")
        if weights is None:
            weights = x.get("mlm_weights", sample_weight)

        # L_ce: KL(teacher_T || student_T) * T^2, per position (MLM) or per example (task).
        log_p_s = tf.nn.log_softmax(s_logits / T, axis=-1)
        log_p_t = tf.nn.log_softmax(t_logits / T, axis=-1)
        kl = tf.reduce_sum(tf.exp(log_p_t) * (log_p_t - log_p_s), axis=-1) * (T * T)
        if self.mlm and self.ce_positions == "all":
            ce_weights = padding
        elif self.mlm:
            ce_weights = f32(weights) if weights is not None else tf.ones_like(kl)
        else:
            ce_weights = f32(sample_weight) if sample_weight is not None else tf.ones_like(kl)
        ce = _masked_mean(kl, ce_weights)

        # L_mlm: the student's own loss on the true labels.
        if labels is None:
            mlm = tf.constant(0.0)
            acc = tf.constant(0.0)
        else:
            own_logits = s_logits
            if self.mlm and self.ce_positions == "all":  # heads ran on all positions: pick the masked ones
                own_logits = tf.gather(s_logits, x["mask_positions"], batch_dims=1)
            labels = tf.cast(labels, "int32")
            w = f32(weights) if weights is not None else tf.ones_like(f32(labels))
            xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=own_logits)
            mlm = _masked_mean(xent, w)
            hit = f32(tf.equal(tf.cast(tf.argmax(own_logits, -1), "int32"), labels))
            acc = _masked_mean(hit, w)

        # L_cos: 1 - cos(student hidden, teacher hidden) over non-padding positions, per layer pair.
        cos_terms = []
        if self.gamma > 0:
            for h_s, h_t in zip(s_out["hidden"], t_out["hidden"]):
                cos = tf.reduce_sum(tf.math.l2_normalize(f32(h_s), -1) * tf.math.l2_normalize(f32(h_t), -1), -1)
                cos_terms.append(_masked_mean(1.0 - cos, padding))
        cos_loss = tf.add_n(cos_terms) / len(cos_terms) if cos_terms else tf.constant(0.0)
        total = self.alpha * ce + self.beta * mlm + self.gamma * cos_loss
        return total, ce, mlm, cos_loss, acc

    def _update(self, total, ce, mlm, cos, acc):
        for tracker, value in zip(self.metrics, (total, ce, mlm, cos, acc)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    # --- steps ---------------------------------------------------------------------------------
    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, dict) or "token_ids" not in x or "padding_mask" not in x:
            raise KbertInputError("Distiller inputs must be a dict with token_ids and padding_mask")
        if self.mlm and "mask_positions" not in x:
            raise KbertInputError("MLM distillation inputs need mask_positions (see kbert.data.pretraining.Masker)")
        return x, y, sample_weight

    def train_step(self, data):
        x, y, sample_weight = self._unpack(data)
        positions = self._ce_positions(x)
        # The teacher: once per step, inference mode, outside the tape.
        t_out = tf.nest.map_structure(tf.stop_gradient,
                                      self.teacher_view(self._teacher_inputs(x, positions), training=False))
        with tf.GradientTape() as tape:
            s_out = self.student_view(self._student_inputs(x, positions), training=True)
            total, ce, mlm, cos, acc = self._loss_terms(x, y, t_out, s_out, sample_weight)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(total / replicas)
        variables = self.student_view.trainable_variables
        grads = tape.gradient(scaled, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]  # e.g. an unused pooler
        self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._update(total, ce, mlm, cos, acc)

    def test_step(self, data):
        x, y, sample_weight = self._unpack(data)
        positions = self._ce_positions(x)
        t_out = self.teacher_view(self._teacher_inputs(x, positions), training=False)
        s_out = self.student_view(self._student_inputs(x, positions), training=False)
        return self._update(*self._loss_terms(x, y, t_out, s_out, sample_weight))

    def get_config(self):
        ser = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "teacher": ser(self.teacher),
            "student": ser(self.student),
            "teacher_head": ser(self.teacher_head) if self.teacher_head is not None else None,
            "student_head": ser(self.student_head) if self.student_head is not None else None,
            "temperature": self.temperature,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "ce_positions": self.ce_positions,
            "layer_map": [list(p) for p in self.layer_map],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        # Heads are tied to their encoder's embedding: rebuild them on the deserialised encoders.
        from kbert.models.heads import mlm_head

        for key, enc in (("teacher_head", "teacher"), ("student_head", "student")):
            if config.get(key) is not None:
                config[key] = mlm_head(config[enc], name=config[key]["config"].get("name", key))
        return cls(**config)
