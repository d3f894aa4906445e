"""Ask a kbert model served by TF Serving over REST (port 8501), standard library only.

    python examples/serving/rest_client.py --model sentiment "What a great film" "Dull and slow"
    python examples/serving/rest_client.py --model squad --question "Where is Paris?" "Paris is in France."

It POSTs TF Serving's columnar JSON to `/v1/models/NAME[/versions/N]:predict`:

    {"signature_name": "serving_default", "inputs": {"text": ["What a great film"]}}

and gets `{"outputs": {"labels": ["positive"], "probabilities": [[...]], ...}}` back. Texts that
are not valid UTF-8 are sent as `{"b64": ...}`, as TF Serving's REST API requires. When a
signature has a single output TF Serving drops its name (`{"outputs": [...]}`); `predict` then
returns it under the key "output".
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.request


class ServingError(RuntimeError):
    """TF Serving answered with an error (HTTP status and its message)."""


def _encode(value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def request_body(inputs: dict, signature: str = "serving_default") -> dict:
    """The JSON body for `inputs` (name -> list of texts or nested lists of ints)."""
    return {"signature_name": signature, "inputs": {name: _encode(list(v)) for name, v in inputs.items()}}


def predict_url(url: str, model: str, version: int | None = None) -> str:
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")
    return url.rstrip("/") + path + ":predict"


def parse_response(body: dict) -> dict:
    if "error" in body:
        raise ServingError(body["error"])
    outputs = body["outputs"]
    return outputs if isinstance(outputs, dict) else {"output": outputs}


def predict(inputs: dict, model: str, url: str = "http://localhost:8501", version: int | None = None,
            signature: str = "serving_default", timeout: float = 30.0) -> dict:
    """POST a predict request; returns the outputs (name -> nested lists)."""
    data = json.dumps(request_body(inputs, signature)).encode("utf-8")
    req = urllib.request.Request(predict_url(url, model, version), data=data,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return parse_response(json.loads(resp.read().decode("utf-8")))
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except ValueError:
            pass
        raise ServingError(f"HTTP {e.code} from {req.full_url}: {detail}") from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("texts", nargs="+", help="texts to send (contexts when --question is given)")
    p.add_argument("--model", required=True, help="model name (MODEL_NAME of the server)")
    p.add_argument("--url", default="http://localhost:8501")
    p.add_argument("--version", type=int)
    p.add_argument("--text-b", nargs="*", help="second texts for sentence-pair classifiers")
    p.add_argument("--question", help="question for a QA model (asked about each text)")
    args = p.parse_args(argv)
    if args.question is not None:
        inputs = {"question": [args.question] * len(args.texts), "context": args.texts}
    else:
        inputs = {"text": args.texts}
        if args.text_b:
            inputs["text_b"] = args.text_b
    try:
        outputs = predict(inputs, args.model, url=args.url, version=args.version)
    except (ServingError, urllib.error.URLError) as e:
        print(f"rest_client: {e}", file=sys.stderr)
        return 1
    print(json.dumps(outputs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
