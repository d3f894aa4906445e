"""The Kotlin / Swift code in tflite/ cannot be compiled here: check that the asset names and tensor
names it expects are what `kbert export tflite` writes (read back from the exported metadata)."""

import os
import re

import keras
import pytest

import kbert
from kbert.export import metadata, string_in, tflite

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tflite")
KOTLIN = os.path.join(ROOT, "android", "app", "src", "main", "java", "dev", "kbert", "demo")
SWIFT = os.path.join(ROOT, "ios", "KbertDemo")


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


@pytest.fixture(scope="module")
def exported():
    from kbert.tasks.classifier import build_classifier
    from kbert.tasks.embedder import build_embedder

    vocab = kbert.tokenizers.read_vocab(os.path.join(kbert.assets.minilm_dir(), "vocab.txt"))
    tok = kbert.tokenizers.wordpiece(vocab)
    enc = kbert.models.backbone("bert_tiny", num_layers=1)
    ins = {n: keras.Input((None,), dtype="int32", name=n) for n in ("token_ids", "padding_mask", "segment_ids")}
    scores = keras.layers.Dense(2)(enc(ins)["sequence_output"])
    qa = keras.Model(ins, {"start_logits": scores[..., 0], "end_logits": scores[..., 1]})
    clf = build_classifier(enc, 2)
    out = {
        "classify": metadata.describe(metadata.add_metadata(tflite.convert(clf, "float32", "classify", 16), "classify",
                                                            tok, labels=["negative", "positive"])),
        "qa": metadata.describe(metadata.add_metadata(tflite.convert(qa, "float32", "qa"), "qa", tok, seq_len=384)),
        "embed": metadata.describe(metadata.add_metadata(tflite.convert(build_embedder(enc), "float32", "embed", 16),
                                                         "embed", tok)),
    }
    si = string_in.convert(clf, tok, "classify", 16)
    out["string_in"] = metadata.tensor_names(si)
    return out


def test_android_asset_names_match_readme():
    kt = read(KOTLIN, "KbertModels.kt")
    assets = dict(re.findall(r'const val (\w+_ASSET) = "([^"]+)"', kt))
    assert assets == {"CLASSIFIER_ASSET": "classify.tflite", "QA_ASSET": "qa.tflite",
                      "EMBEDDER_ASSET": "embed.tflite"}
    readme = read(ROOT, "README.md")
    for name in assets.values():
        assert name in readme
    swift = read(SWIFT, "KbertModels.swift")
    for name in assets.values():
        assert f'"{name[:-len(".tflite")]}"' in swift


def test_code_names_match_exported_metadata(exported):
    kt, swift = read(KOTLIN, "KbertModels.kt"), read(SWIFT, "KbertModels.swift")
    clf, qa, emb = exported["classify"], exported["qa"], exported["embed"]
    for info in (clf, qa, emb):
        assert set(info["input_names"]) == {"ids", "mask", "segment_ids"}
    assert clf["output_names"] == ["probability"] and set(clf["files"]) == {"labels.txt", "vocab.txt"}
    assert set(qa["output_names"]) == {"start_logits", "end_logits"} and qa["name"] == "BertQuestionAnswerer"
    assert emb["output_names"] == ["embeddings"]
    # the comments/code name exactly these tensors and packed files
    for text in (kt, swift):
        for name in ("probability", "start_logits", "end_logits", "embeddings", "labels.txt", "vocab.txt"):
            assert name in text, name
    assert "384" in kt and "384" in swift


def test_string_in_names(exported):
    names = exported["string_in"]
    kt = read(KOTLIN, "StringInModel.kt")
    assert list(names["inputs"]) == ["text"] and names["outputs"] == ["probability"]
    assert re.search(r'STRING_IN_INPUT = "text"', kt) and re.search(r'STRING_IN_OUTPUT = "probability"', kt)
    for op in ("FastBertNormalize", "FastWordpieceTokenize"):
        assert op in kt
    # no iOS string-in sample: three constants were not code (the C API + tf-text kernels are left to apps)
    assert not os.path.exists(os.path.join(SWIFT, "StringInModel.swift"))


def test_default_classifier_is_not_loaded_by_the_task_library():
    """The default classify.tflite is per-channel dynamic-int8 (MediaPipe / LiteRT): the samples must not
    open it with the Task Library 0.4.4, which cannot load FULLY_CONNECTED v12."""
    kt, swift = read(KOTLIN, "KbertModels.kt"), read(SWIFT, "KbertModels.swift")
    assert "BertNLClassifier" not in kt and "BertNLClassifier" not in swift
    assert "TextClassifier" in kt and "TextClassifier" in swift


def test_pinned_versions():
    gradle, pod = read(ROOT, "android", "build.gradle.snippet"), read(ROOT, "ios", "Podfile")
    assert re.search(r'"com\.google\.mediapipe:tasks-text:\d+\.\d+\.\d+"', gradle)
    assert '"org.tensorflow:tensorflow-lite-task-text:0.4.4"' in gradle  # QA only
    assert re.search(r"pod 'MediaPipeTasksText', '\d+\.\d+\.\d+'", pod)
    assert "pod 'TensorFlowLiteTaskText', '0.4.4'" in pod
