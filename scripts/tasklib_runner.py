"""Run the TFLite Task Library (tflite-support 0.4.4) on an exported model; prints JSON.

Runs inside .venv-tasklib (scripts/make_tasklib_venv.sh: protobuf 3.20.3, no TensorFlow), so the
tests in .venv call it as a subprocess:

    .venv-tasklib/bin/python scripts/tasklib_runner.py classify clf.tflite < texts.json
    .venv-tasklib/bin/python scripts/tasklib_runner.py qa qa.tflite < pairs.json

stdin: classify -> ["text", ...]; qa -> [["question", "context"], ...].
stdout: classify -> [[{"label", "index", "score"}, ...] per text, sorted by score];
        qa -> [{"text", "start", "end", "logit"} (best answer) per pair].
"""

import json
import sys


def main(argv):
    task, model = argv[1], argv[2]
    items = json.load(sys.stdin)
    from tflite_support.task import text

    out = []
    if task == "classify":
        clf = text.BertNLClassifier.create_from_file(model)
        for t in items:
            cats = clf.classify(t).classifications[0].categories
            out.append([{"label": c.category_name, "index": c.index, "score": c.score} for c in cats])
    elif task == "qa":
        qa = text.BertQuestionAnswerer.create_from_file(model)
        for question, context in items:
            answers = qa.answer(context, question).answers
            best = answers[0] if answers else None
            out.append(None if best is None else {"text": best.text, "start": best.pos.start,
                                                  "end": best.pos.end, "logit": best.pos.logit})
    else:
        raise SystemExit(f"unknown task {task!r}: expected classify or qa")
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
