"""The one optimizer recipe of kbert: AdamW with decoupled weight decay, global-norm clipping, and a
linear warm-up into a cosine decay.

    >>> from kbert.training.optim import adamw
    >>> opt = adamw(5e-5, total_steps=100, warmup_steps=10)
    >>> float(opt.learning_rate)                      # step 0 of the warm-up
    0.0
    >>> sorted(NO_DECAY)
    ['beta', 'bias', 'gamma', 'layer_norm']

Fine-tuning (`kbert.recipes.finetune`, the task models' default `compile()`), distillation and
pretraining all build their optimizer here, so they agree on what is excluded from weight decay:
biases and every layer norm's scale and offset (BERT's recipe; Hugging Face's
`no_decay = ["bias", "LayerNorm.weight"]`). Keras matches these names as regular expressions
against each variable's path, so "layer_norm" also covers `embeddings_layer_norm`.

The schedule: `warmup_steps` linear from 0 to `learning_rate`, then a cosine decay to
`final_fraction * learning_rate` at `total_steps` (fine-tuning decays to 0, pretraining to 0.1 of
the peak). Without `total_steps` the rate stays constant.
"""

from __future__ import annotations

NO_DECAY = ("bias", "gamma", "beta", "layer_norm")


def schedule(learning_rate: float, total_steps: int | None = None, warmup_steps: int = 0,
             final_fraction: float = 0.0):
    """A float (no `total_steps`) or a `keras.optimizers.schedules.CosineDecay` with linear warm-up."""
    import keras

    from kbert.errors import KbertInputError

    if not total_steps:
        return float(learning_rate)
    total, warm = int(total_steps), int(warmup_steps)
    if warm < 0 or warm >= total and total > 1:
        raise KbertInputError(f"warmup_steps must be in [0, total_steps), got {warm} of {total}")
    if warm:
        return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(total - warm, 1), alpha=final_fraction,
                                                      warmup_target=float(learning_rate), warmup_steps=warm)
    return keras.optimizers.schedules.CosineDecay(float(learning_rate), decay_steps=total, alpha=final_fraction)


def adamw(learning_rate=5e-5, weight_decay: float = 0.01, total_steps: int | None = None, warmup_steps: int = 0,
          final_fraction: float = 0.0, clipnorm: float | None = 1.0, **kwargs):
    """`keras.optimizers.AdamW` with kbert's weight-decay exclusions, clipping and schedule.

    `learning_rate` is a float (scheduled by `total_steps` / `warmup_steps`) or a ready Keras
    schedule (used as is). Extra keyword arguments go to `AdamW` (e.g. `epsilon`).
    """
    import keras

    lr = (schedule(learning_rate, total_steps, warmup_steps, final_fraction)
          if isinstance(learning_rate, (int, float)) else learning_rate)
    opt = keras.optimizers.AdamW(lr, weight_decay=float(weight_decay), global_clipnorm=clipnorm, **kwargs)
    opt.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return opt
