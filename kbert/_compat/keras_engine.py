"""Keras / tf.distribute internals kbert uses: replaying a functional model with one layer swapped,
building a custom-train_step model from a distributed batch, and asking a strategy whether it really
spans several workers."""

from __future__ import annotations

from kbert._compat import check, require


def run_graph_with(model, inputs, operation_fn):
    """Run functional `model` on `inputs` with each operation replaced by `operation_fn(op)` (Keras' own
    graph runner, so nested models and multi-output heads keep their wiring)."""
    touch = "tracing a task model with its backbone swapped (distillation)"
    return require(model, "_run_through_graph", "keras", touch)(inputs, operation_fn=operation_fn)


def in_multi_worker_mode(strategy) -> bool:
    """Whether a MultiWorkerMirroredStrategy really has more than one worker."""
    check("tensorflow", "multi-worker metric reduction")
    return bool(require(strategy.extended, "_in_multi_worker_mode", "tensorflow", "multi-worker metric reduction")())


class FirstReplicaBuild:
    """Mixin for a `keras.Model` with a custom `train_step`: build it from the first local replica's batch.

    Keras (3.15) peeks at the first distributed batch and reduces it with `strategy.reduce("MEAN", batch)`;
    TF's `reduce` does not take nested values, and under MultiWorkerMirroredStrategy (num_workers > 1) it
    sends the whole `({"token_ids": PerReplica, ...}, {...})` batch to a collective all-reduce, which fails
    with "Attempt to convert a value ({'token_ids': PerReplica..." (keras-team/keras#20329). Building only
    needs shapes and dtypes: this takes the first local replica's tensors instead.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        import tensorflow as tf

        touch = "building a model from a distributed batch (keras-team/keras#20329)"
        check("keras", touch)
        if iterator is not None and require(self, "_distribute_strategy", "keras", touch) is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
