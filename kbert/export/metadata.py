"""TFLite metadata that the phone runtimes read: tokenizer files, tensor names, labels.

    >>> from kbert.export import metadata
    >>> content = metadata.add_metadata(content, "classify", tokenizer, labels=["neg", "pos"])  # doctest: +SKIP
    >>> metadata.describe(content)["input_names"]                                               # doctest: +SKIP
    ['ids', 'mask', 'segment_ids']

Written with tflite-support 0.4.4's metadata writers (imported as `tensorflow_lite_support...`:
`import tflite_support` fails next to TensorFlow):

* classify -> `bert_nl_classifier.MetadataWriter` (Task Library `BertNLClassifier`, MediaPipe
  `TextClassifier`): input tensors `ids`/`mask`/`segment_ids` + the WordPiece vocab or SentencePiece
  model as a process unit, output `probability` with `labels.txt` attached.
* qa -> composed from the generic pieces (tflite-support 0.4.4 has no QA writer): the same BERT
  input metadata, outputs named `end_logits` / `start_logits` in the subgraph's output order (the
  Task Library's `BertQuestionAnswerer` finds them by these metadata names; seq len 384).
* embed / encoder -> input metadata as above, output `embeddings` (MediaPipe `TextEmbedder`).
* ner -> input metadata, output `logits` (no runtime task; for custom interpreters).

The writers need the real TFLite tensor names (`serving_default_ids:0`, ...), read from the model.
"""

from __future__ import annotations

import os
import tempfile

from kbert.errors import KbertInputError, require_extra

VOCAB_FILE = "vocab.txt"
SPM_FILE = "spiece.model"
LABEL_FILE = "labels.txt"


def _writers():
    require_extra("tensorflow_lite_support.metadata.python.metadata_writers.metadata_info", "mobile",
                  "tflite-support==0.4.4 --no-deps")
    from tensorflow_lite_support.metadata.python.metadata_writers import (bert_nl_classifier, metadata_info,
                                                                          metadata_writer, writer_utils)

    return bert_nl_classifier, metadata_info, metadata_writer, writer_utils


def tensor_names(content: bytes) -> dict:
    """{"inputs": {signature name: tensor name}, "outputs": [signature names in subgraph output order],
    "output_tensors": [tensor names in order]}."""
    from kbert._compat.tflite import signature_tensor_indices
    from kbert.export.litert import interpreter

    interp = interpreter(content, allocate=False)  # not allocated: custom ops need no kernels here
    sig = signature_tensor_indices(interp)
    key = next(iter(sig))
    by_index = {d["index"]: d["name"] for d in interp.get_input_details()}
    inputs = {name: by_index[idx] for name, idx in sig[key]["inputs"].items()}
    out_index = {idx: name for name, idx in sig[key]["outputs"].items()}
    outs = interp.get_output_details()
    return {"inputs": inputs, "outputs": [out_index[d["index"]] for d in outs],
            "output_tensors": [d["name"] for d in outs]}


def _tokenizer_md(metadata_info, tokenizer, folder: str):
    from kbert import tokenizers

    files = tokenizers.save(tokenizer, folder)
    if SPM_FILE in files or any(f.endswith(".model") for f in files):
        spm = os.path.join(folder, next(f for f in files if f.endswith(".model")))
        return metadata_info.SentencePieceTokenizerMd(spm)
    if VOCAB_FILE not in files:
        raise KbertInputError(f"tokenizer {type(tokenizer).__name__} wrote {files}: neither vocab.txt nor a "
                              "SentencePiece model, so no metadata tokenizer can be attached")
    return metadata_info.BertTokenizerMd(os.path.join(folder, VOCAB_FILE))


def add_metadata(content: bytes, task: str, tokenizer, labels=None, seq_len: int | None = None,
                 name: str | None = None) -> bytes:
    """Return `content` with metadata (and tokenizer / label files) packed in, as the task's registry
    entry asks (`tflite_metadata`: "classifier" = BertNLClassifier with a label file, else the BERT
    inputs and named outputs under `metadata_name` / `metadata_description`)."""
    from kbert.tasks.registry import export_spec

    spec = export_spec(task)
    bert_nl_classifier, metadata_info, metadata_writer, writer_utils = _writers()
    names = tensor_names(content)
    missing = [n for n in ("ids", "mask", "segment_ids") if n not in names["inputs"]]
    if missing:
        raise KbertInputError(f"the TFLite model lacks inputs {missing} (has {sorted(names['inputs'])})")
    buf = bytearray(content)
    with tempfile.TemporaryDirectory() as folder:
        tok_md = _tokenizer_md(metadata_info, tokenizer, folder)
        ids, mask, seg = (names["inputs"][k] for k in ("ids", "mask", "segment_ids"))
        if spec.tflite_metadata == "classifier":
            if not labels:
                raise KbertInputError("a classifier export needs its labels for the label file")
            label_path = os.path.join(folder, LABEL_FILE)
            with open(label_path, "w") as f:
                f.write("\n".join(labels) + "\n")
            writer = bert_nl_classifier.MetadataWriter.create_for_inference(
                buf, tok_md, [label_path], ids_name=ids, mask_name=mask, segment_name=seg)
            return bytes(writer.populate())
        input_md = metadata_info.BertInputTensorsMd(buf, ids, mask, seg, tokenizer_md=tok_md)
        descriptions = {
            "start_logits": "Logits of each token being the start of the answer span.",
            "end_logits": "Logits of each token being the end of the answer span.",
            "embeddings": "Sentence embedding (mean of the token vectors over the mask).",
            "logits": "Per-token label logits.",
        }
        outputs = [metadata_info.TensorMd(name=n, description=descriptions.get(n, n)) for n in names["outputs"]]
        model_name = spec.metadata_name or getattr(spec, "__name__", task)
        model_desc = spec.metadata_description.format(seq_len=seq_len)
        general = metadata_info.GeneralMd(name=name or model_name, description=model_desc)
        writer = metadata_writer.MetadataWriter.create_from_metadata(
            buf,
            model_metadata=general.create_metadata(),
            input_metadata=input_md.create_input_tesnor_metadata(),
            output_metadata=[o.create_metadata() for o in outputs],
            associated_files=input_md.get_tokenizer_associated_files(),
            input_process_units=input_md.create_input_process_unit_metadata())
        return bytes(writer.populate())


def describe(content: bytes) -> dict:
    """The metadata of a `.tflite` as a dict: names of inputs/outputs, packed files, tokenizer kind."""
    import json

    require_extra("tensorflow_lite_support.metadata.python.metadata", "mobile", "tflite-support==0.4.4 --no-deps")
    from tensorflow_lite_support.metadata.python import metadata as _metadata

    displayer = _metadata.MetadataDisplayer.with_model_buffer(bytearray(content))
    md = json.loads(displayer.get_metadata_json())
    sub = md["subgraph_metadata"][0]
    units = sub.get("input_process_units", [])
    return {
        "name": md.get("name"),
        "input_names": [t["name"] for t in sub.get("input_tensor_metadata", [])],
        "output_names": [t["name"] for t in sub.get("output_tensor_metadata", [])],
        "files": displayer.get_packed_associated_file_list(),
        "tokenizer": [u.get("options_type") for u in units],
        "raw": md,
    }
