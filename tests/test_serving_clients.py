"""The serving clients in examples/serving/ against local stand-ins for TF Serving: an HTTP server
on 127.0.0.1 speaking TF Serving's REST predict API and a gRPC PredictionService, both answering
by running the exported SavedModel."""

import base64
import importlib.util
import json
import os
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import keras
import numpy as np
import pytest
import tensorflow as tf

import kbert
from kbert.export.serving import export_serving
from kbert.model_dir import save_model_dir
from kbert.tasks.classifier import build_classifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "the", "was", "very", "é"]
LABELS = ["negative", "positive"]
TEXTS = ["the film was very good", "bad", ""]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", "serving", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rest_client, grpc_client = _load("rest_client"), _load("grpc_client")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("clients")
    keras.utils.set_random_seed(0)
    model = build_classifier(kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB)), 2)
    md = save_model_dir(root / "md", model, kbert.tokenizers.wordpiece(VOCAB), "classify", 12, labels=LABELS,
                        pair=False, multi_label=False)
    path = export_serving(md, root / "sentiment", warmup=False)
    return {"name": "sentiment", "version": 1, "loaded": tf.saved_model.load(path)}


def _direct(served, texts, signature="serving_default"):
    fn = served["loaded"].signatures[signature]
    return {k: v.numpy() for k, v in fn(text=tf.constant(texts, tf.string)).items()}


# ----- REST ------------------------------------------------------------------------------------------


def _json_value(v):
    if isinstance(v, dict) and set(v) == {"b64"}:
        return base64.b64decode(v["b64"])
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    return v.encode("utf-8") if isinstance(v, str) else v


def _tolist(a):
    return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(a).tolist() if a.dtype == object else a.tolist()


class FakeServing(BaseHTTPRequestHandler):
    """TF Serving's REST predict API (columnar `inputs` and row `instances`) over a SavedModel."""

    served = None

    def log_message(self, *args):
        pass

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        s = self.served
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        path, _, verb = self.path.partition(":")
        allowed = (f"/v1/models/{s['name']}", f"/v1/models/{s['name']}/versions/{s['version']}")
        if verb != "predict" or path not in allowed:
            return self._reply(404, {"error": f"Servable not found for request: {path}"})
        signatures = s["loaded"].signatures
        name = body.get("signature_name", "serving_default")
        if name not in signatures:
            return self._reply(400, {"error": f"Serving signature name: \"{name}\" not found in signature def"})
        if "inputs" in body:
            inputs = {k: _json_value(v) for k, v in body["inputs"].items()}
        else:
            inputs = {k: [_json_value(row[k]) for row in body["instances"]] for k in body["instances"][0]}
        spec = signatures[name].structured_input_signature[1]
        outputs = signatures[name](**{k: tf.constant(v, spec[k].dtype) for k, v in inputs.items()})
        outputs = {k: _tolist(v.numpy()) for k, v in outputs.items()}
        if "inputs" in body:
            return self._reply(200, {"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))})
        rows = [{k: v[i] for k, v in outputs.items()} for i in range(len(next(iter(outputs.values()))))]
        return self._reply(200, {"predictions": rows})


@pytest.fixture(scope="module")
def http_url(served):
    handler = type("Handler", (FakeServing,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rest_request_format():
    body = rest_client.request_body({"text": ["good", b"\xff bad", "é".encode()]})
    assert body == {"signature_name": "serving_default", "inputs": {"text": ["good", {"b64": "/yBiYWQ="}, "é"]}}
    assert rest_client.predict_url("http://h:8501/", "m", 3) == "http://h:8501/v1/models/m/versions/3:predict"
    assert rest_client.predict_url("http://h:8501", "m") == "http://h:8501/v1/models/m:predict"
    assert rest_client.parse_response({"outputs": [[0.5]]}) == {"output": [[0.5]]}
    with pytest.raises(rest_client.ServingError, match="boom"):
        rest_client.parse_response({"error": "boom"})


def test_rest_client_against_local_server(served, http_url):
    direct = _direct(served, TEXTS + [b"\xff bad"])
    out = rest_client.predict({"text": TEXTS + [b"\xff bad"]}, "sentiment", url=http_url)
    assert out["labels"] == [s.decode() for s in direct["labels"]]
    np.testing.assert_allclose(out["probabilities"], direct["probabilities"], atol=1e-6)
    assert out["label_ids"] == direct["label_ids"].tolist()
    versioned = rest_client.predict({"text": TEXTS}, "sentiment", url=http_url, version=1)
    assert versioned["labels"] == out["labels"][:3]
    ids = {"token_ids": [[2, 5, 3, 0]], "padding_mask": [[1, 1, 1, 0]], "segment_ids": [[0, 0, 0, 0]]}
    by_ids = rest_client.predict(ids, "sentiment", url=http_url, signature="from_token_ids")
    np.testing.assert_allclose(by_ids["probabilities"], _direct(served, ["good"])["probabilities"], atol=1e-6)


def test_rest_client_errors(http_url, capsys):
    with pytest.raises(rest_client.ServingError, match="HTTP 404.*Servable not found"):
        rest_client.predict({"text": ["good"]}, "nope", url=http_url)
    with pytest.raises(rest_client.ServingError, match="HTTP 400.*not found in signature def"):
        rest_client.predict({"text": ["good"]}, "sentiment", url=http_url, signature="missing")
    assert rest_client.main(["--model", "sentiment", "--url", http_url, "good film"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["labels"][0] in LABELS and len(printed["probabilities"][0]) == 2
    assert rest_client.main(["--model", "nope", "--url", http_url, "x"]) == 1


# ----- gRPC ------------------------------------------------------------------------------------------


def test_grpc_request_and_response_protos(served):
    from tensorflow_serving.apis import predict_pb2

    request = grpc_client.make_request({"text": ["good", b"\xff"]}, "sentiment", version=1)
    assert isinstance(request, predict_pb2.PredictRequest)
    assert request.model_spec.name == "sentiment" and request.model_spec.version.value == 1
    assert request.model_spec.signature_name == "serving_default"
    assert tf.make_ndarray(request.inputs["text"]).tolist() == [b"good", b"\xff"]
    ids = grpc_client.make_request({"token_ids": [[2, 5, 3]]}, "m", signature="from_token_ids")
    assert ids.inputs["token_ids"].dtype == tf.int32.as_datatype_enum
    response = predict_pb2.PredictResponse()
    for k, v in _direct(served, ["good"]).items():
        response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
    parsed = grpc_client.parse_response(response)
    assert parsed["labels"].tolist()[0].decode() in LABELS and parsed["probabilities"].shape == (1, 2)


@pytest.fixture(scope="module")
def grpc_target(served):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 - gRPC's method name
            if request.model_spec.name != served["name"]:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
            fn = served["loaded"].signatures[request.model_spec.signature_name or "serving_default"]
            outputs = fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(request.model_spec)
            for k, v in outputs.items():
                response.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_grpc_client_against_local_server(served, grpc_target, capsys):
    import grpc

    texts = TEXTS + [b"\xff bad", "x" * 100_000]
    out = grpc_client.predict({"text": texts}, "sentiment", target=grpc_target)
    direct = _direct(served, texts)
    assert out["labels"].tolist() == direct["labels"].tolist()
    np.testing.assert_allclose(out["probabilities"], direct["probabilities"], atol=1e-6)
    empty = grpc_client.predict({"text": []}, "sentiment", target=grpc_target)
    assert empty["probabilities"].shape == (0, 2)
    with pytest.raises(grpc.RpcError) as err:
        grpc_client.predict({"text": ["good"]}, "nope", target=grpc_target)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert grpc_client.main(["--model", "sentiment", "--target", grpc_target, "good film"]) == 0
    assert "labels: [b'" in capsys.readouterr().out
    assert grpc_client.main(["--model", "nope", "--target", grpc_target, "x"]) == 1
