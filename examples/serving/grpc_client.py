"""Ask a kbert model served by TF Serving over gRPC (port 8500) with `PredictionServiceStub`.

    python examples/serving/grpc_client.py --model sentiment "What a great film" "Dull and slow"

Needs `pip install tensorflow-serving-api` (kbert's `serving` extra), which brings grpcio and the
TensorFlow protos. gRPC carries raw bytes, so any text (even invalid UTF-8) goes as it is; the
model repairs invalid UTF-8 with U+FFFD.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def make_request(inputs: dict, model: str, signature: str = "serving_default", version: int | None = None):
    """A `PredictRequest`: texts become DT_STRING tensors, integer lists DT_INT32 (token ids)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        value = list(value)
        if value and isinstance(value[0], (str, bytes)):
            array = np.array([v.encode("utf-8") if isinstance(v, str) else v for v in value], dtype=object)
        elif not value:
            array = np.array([], dtype=object)  # an empty batch of texts
        else:
            array = np.asarray(value, dtype=np.int32)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def parse_response(response) -> dict:
    """A `PredictResponse` -> {output name: numpy array} (strings stay bytes)."""
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def predict(inputs: dict, model: str, target: str = "localhost:8500", signature: str = "serving_default",
            version: int | None = None, timeout: float = 30.0) -> dict:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(make_request(inputs, model, signature, version), timeout=timeout)
    return parse_response(response)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("texts", nargs="+", help="texts to send (contexts when --question is given)")
    p.add_argument("--model", required=True)
    p.add_argument("--target", default="localhost:8500")
    p.add_argument("--version", type=int)
    p.add_argument("--text-b", nargs="*", help="second texts for sentence-pair classifiers")
    p.add_argument("--question", help="question for a QA model (asked about each text)")
    args = p.parse_args(argv)
    if args.question is not None:
        inputs = {"question": [args.question] * len(args.texts), "context": args.texts}
    else:
        inputs = {"text": args.texts, **({"text_b": args.text_b} if args.text_b else {})}
    import grpc

    try:
        outputs = predict(inputs, args.model, target=args.target, version=args.version)
    except grpc.RpcError as e:
        print(f"grpc_client: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    for name, value in sorted(outputs.items()):
        print(f"{name}: {value.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
