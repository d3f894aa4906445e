"""TF Serving warmup records: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these requests when it loads a version, before it reports the version
available, so the first real client does not pay for graph tracing and tf-text's lazy table
initialisation. The file is a TFRecord of `PredictionLog` protos, each wrapping a real
`PredictRequest` (`tensorflow_serving.apis`):

    >>> reqs = requests_for("classify", "sentiment")          # doctest: +SKIP
    >>> write("serving/sentiment/1", reqs)                    # doctest: +SKIP
    >>> [r.model_spec.signature_name for r in read("serving/sentiment/1")]   # doctest: +SKIP
    ['serving_default', 'serving_default']

`replay(saved_model, requests)` runs each request through a loaded SavedModel, as the server does.
"""

from __future__ import annotations

import os

from kbert.errors import require_extra

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
SAMPLE_TEXTS = (
    "kbert warms up the model before the first request.",
    "TF Serving replays these requests when it loads a new version.",
    "",
    "Ünïcödé, punctuation!? and a longer sentence that may be truncated by the tokenizer " * 4,
)
SAMPLE_QUESTIONS = ("What does TF Serving replay?",)
SAMPLE_CONTEXTS = ("TF Serving replays the warmup requests when it loads a new model version.",)


def _apis():
    require_extra("tensorflow_serving.apis.predict_pb2", "serving", "tensorflow-serving-api")
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    return predict_pb2, prediction_log_pb2


def predict_request(model_name: str, inputs: dict, signature_name: str = "serving_default"):
    """A `PredictRequest` for `model_name` with `inputs` (name -> array-like) as TensorProtos."""
    import numpy as np
    import tensorflow as tf

    predict_pb2, _ = _apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        value = np.asarray(value, dtype=object if _is_text(value) else None)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def _is_text(value) -> bool:
    import numpy as np

    flat = np.asarray(value, dtype=object).ravel()
    return flat.size > 0 and isinstance(flat[0], (str, bytes))


def requests_for(task: str, model_name: str, pair: bool = False, texts=None) -> list:
    """Sample raw-text requests for a task's `serving_default` (its registry entry's `serving_inputs`):
    batch 1 and a batch of all samples."""
    from kbert.tasks.registry import export_spec

    if export_spec(task).serving_inputs == "question_context":
        questions = list(texts or SAMPLE_QUESTIONS)
        contexts = (SAMPLE_CONTEXTS * len(questions))[: len(questions)]
        batches = [{"question": questions[:1], "context": contexts[:1]},
                   {"question": questions, "context": contexts}]
    else:
        texts = [t.encode("utf-8") if isinstance(t, str) else t for t in (texts or SAMPLE_TEXTS)]
        batches = [{"text": texts[:1]}, {"text": texts}]
        if pair:
            for b in batches:
                b["text_b"] = list(reversed(b["text"]))
    return [predict_request(model_name, b) for b in batches]


def write(export_dir: str, requests) -> str:
    """Write `requests` to `export_dir/assets.extra/tf_serving_warmup_requests`; returns the path."""
    import tensorflow as tf

    _, prediction_log_pb2 = _apis()
    folder = os.path.join(export_dir, WARMUP_DIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read(export_dir: str) -> list:
    """The `PredictRequest`s stored in an export's warmup file."""
    import tensorflow as tf

    _, prediction_log_pb2 = _apis()
    path = os.path.join(export_dir, WARMUP_DIR, WARMUP_FILE)
    requests = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        requests.append(log.predict_log.request)
    return requests


def replay(saved_model, requests) -> list[dict]:
    """Run each request through a loaded SavedModel's signature; returns the outputs as numpy."""
    import tensorflow as tf

    results = []
    for request in requests:
        fn = saved_model.signatures[request.model_spec.signature_name or "serving_default"]
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        results.append({k: v.numpy() for k, v in fn(**inputs).items()})
    return results
