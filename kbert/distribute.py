"""Pick the tf.distribute strategy for whatever this machine has: a TPU (Colab, Cloud TPU VM),
several GPUs, one GPU or the CPU. Build and compile models inside `strategy.scope()`; `model.fit`
then runs the same code on any of them (the pretrainers, the distiller and the task models all
use Keras' distribution-aware train steps).

    >>> from kbert.distribute import auto_strategy
    >>> strategy = auto_strategy()
    >>> strategy.num_replicas_in_sync >= 1
    True

Across several machines, set `TF_CONFIG` on each worker and pass
`tf.distribute.MultiWorkerMirroredStrategy()` yourself (see docs/scaling.md).
"""

from __future__ import annotations


def auto_strategy(tpu: str | None = None, verbose: bool = False):
    """TPUStrategy if a TPU answers, MirroredStrategy for 2+ GPUs, else the default strategy."""
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
        kind = f"TPU ({strategy.num_replicas_in_sync} cores)"
    except (ValueError, RuntimeError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError):
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) > 1:
            strategy = tf.distribute.MirroredStrategy()
            kind = f"{len(gpus)} GPUs (MirroredStrategy)"
        else:
            strategy = tf.distribute.get_strategy()
            kind = "1 GPU" if gpus else "CPU"
    if verbose:
        print(f"kbert: running on {kind}")
    return strategy
