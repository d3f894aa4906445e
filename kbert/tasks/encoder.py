"""The bare encoder as an export-only task (`task="encoder"`): a backbone exported to TFLite as a
sentence embedder (masked mean of the token vectors). It has no task model of its own: the
exporters find it in the registry (`kbert.tasks.registry.export_spec("encoder")`).
"""

from __future__ import annotations

from kbert.tasks.contract import ExportContract


class EncoderExport(ExportContract):
    task = "encoder"
    phone_output_names = ("embeddings",)
    gate_metric = "cosine"
    metadata_name = "TextEmbedder"
    metadata_description = "Embed text into a vector."
    serving_inputs = None  # not servable: serve a TextEmbedder

    @classmethod
    def phone_graph(cls, outputs, inputs, meta) -> dict:
        """Masked mean pooling of the sequence output over the phone's `mask` input."""
        import keras

        from kbert.models import sequence_output

        if not isinstance(outputs, dict):
            outputs = {"sequence_output": outputs}
        seq = sequence_output(outputs)
        mask = keras.ops.cast(keras.ops.expand_dims(inputs["mask"], -1), seq.dtype)
        return {"embeddings": keras.ops.sum(seq * mask, 1) / keras.ops.maximum(keras.ops.sum(mask, 1), 1.0)}
