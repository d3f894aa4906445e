"""What the exporters ask a task: its export contract, declared once on the task class.

    >>> from kbert.tasks import registry
    >>> spec = registry.export_spec("qa")
    >>> spec.phone_output_names, spec.export_seq_len, spec.gate_metric
    (('end_logits', 'start_logits'), 384, 'answer_span')
    >>> registry.export_spec("encoder").phone_output_names
    ('embeddings',)

Every `TaskModel` subclass inherits `ExportContract`; the TFLite exporter (`tflite_spec.mobile_model`,
`accuracy_gate.judge`, `metadata.add_metadata`, the runtime check) and the TF Serving exporter
(`serving.Signatures`) read these attributes from the task's registry entry
(`kbert.tasks.registry.export_spec`) instead of comparing task names, so a new task is one new
file: a subclass that sets them (or keeps the defaults: its model outputs served and shipped as
they are, the gate comparing them numerically).

The generic behaviours the exporters implement, named by the attributes below:

- `gate_metric`: how the accuracy gate compares Keras and TFLite: "class_probability" (top label,
  paired accuracy), "token_labels" (entity F1), "answer_span" (QA token F1), "cosine" (each
  phone output's cosine similarity); a task may instead define `gate_report(...)` itself.
- `tflite_metadata`: "classifier" (MediaPipe / Task Library `BertNLClassifier`: tokenizer + label
  file) or "bert_inputs" (tokenizer and named outputs, `metadata_name` / `metadata_description`).
- `serving_inputs`: "text" (one text; a pair when the model was trained on pairs),
  "question_context"; `serving_outputs`: "labels", "token_labels" (needs offsets), "answer_span"
  (needs offsets), "phone" (the phone outputs as they are).
"""

from __future__ import annotations


class ExportContract:
    """Class-level answers to the exporters' questions (see the module docstring)."""

    task = ""                         # the registry name
    phone_output_names: tuple = ()    # the TFLite outputs, in their order (empty: every model output)
    export_seq_len: int | None = None  # default export length when the model records none (128 otherwise)
    seq_len_note: str | None = None   # warning when exported at another length than export_seq_len
    length_free_labels = True         # held-out labels survive a shorter export length (not token positions)
    gate_metric = "cosine"
    default_heldout = "sentences"     # the gate's off-domain text without data: "sentences" | "question_context"
    raw_string_check = False          # check the phone runtime's own tokenizer on raw strings (classifiers)
    tflite_metadata = "bert_inputs"
    metadata_name: str | None = None  # GeneralMd name for "bert_inputs" (default: the class name)
    metadata_description: str = "Text model."
    serving_inputs = "text"
    serving_outputs = "phone"
    needs_labels = False              # serving and the card need label names

    @classmethod
    def phone_graph(cls, outputs: dict, inputs: dict, meta: dict) -> dict:
        """Keras ops from the model's outputs (and the phone inputs `ids` / `mask` / `segment_ids`) to
        the phone-facing outputs; `meta` holds the model's settings (`multi_label`, ...)."""
        names = cls.phone_output_names or tuple(sorted(outputs))
        return {n: outputs[n] for n in names}

    @classmethod
    def output_names(cls, outputs=None) -> tuple:
        return cls.phone_output_names or tuple(sorted(outputs or ()))
