"""Writes colab/*.ipynb from the cells below (outputs empty). Edit here, then run
`python colab/build_notebooks.py`; tests/test_notebooks.py checks the files are up to date and
executes each notebook with KBERT_SMOKE=1 (small sizes, minutes on 2 CPU cores).
"""

import os

import nbformat

# The one place that says where the notebooks install kbert from (and where their Colab badges point).
# REPO: the GitHub owner/name this repository is published under (a placeholder until it is).
# INSTALL: what the Colab cell pip-installs; once keras-kbert is on PyPI, make it "keras-kbert[tasks,mobile]".
# After changing either, run `python colab/build_notebooks.py` (tests/test_notebooks.py checks it was run).
REPO = "kbert-ml/kbert"
INSTALL = f"keras-kbert[tasks,mobile] @ git+https://github.com/{REPO}"
HERE = os.path.dirname(os.path.abspath(__file__))


def badge(name):
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/colab/{name}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


SETUP = [
    ("code", f"""# In Colab: install kbert (a minute or two). Colab's TensorFlow and Keras stay installed when they are
# in kbert's ranges (TensorFlow 2.18-2.21, Keras 3.10-3.15), so no runtime restart. Elsewhere: `pip install -e .`.
# KBERT_SOURCE is set in one place, colab/build_notebooks.py (INSTALL); when the project is published on
# PyPI it becomes "keras-kbert[tasks,mobile]" there, and the notebooks are rebuilt.
import sys
KBERT_SOURCE = "{INSTALL}"
if "google.colab" in sys.modules:
    !pip -q install "{{KBERT_SOURCE}}"
"""),
    ("code", """import os
SMOKE = os.environ.get("KBERT_SMOKE") == "1"   # CI runs every notebook top to bottom with tiny sizes
import matplotlib.pyplot as plt
import numpy as np
import kbert
from kbert.distribute import auto_strategy
strategy = auto_strategy(verbose=True)         # TPU, several GPUs, one GPU or CPU
"""),
]

NOTEBOOKS = {}

NOTEBOOKS["01_finetune_classifier"] = [
    ("md", """# Fine-tune a real checkpoint for sentiment analysis
{badge}

A real checkpoint (all-MiniLM-L6-v2, a 6-layer BERT) is loaded into a keras-hub backbone and
fine-tuned with plain `model.fit` on 38k real tweets labelled negative / neutral / positive.
Then: held-out accuracy and macro-F1, a confusion matrix, training curves, and a model directory
that `kbert export tflite` / `kbert export serving` take as it is."""),
    *SETUP,
    ("code", """from kbert.checkpoints.hf import load_hf
from kbert.data import datasets, tasks
from kbert.preprocessing import preprocessor_for
from kbert.tasks.classifier import build_classifier, compile_classifier

data = datasets.sentiment_tweets()
print(len(data), "tweets, labels", data.label_names)
n_train, n_eval = (200, 100) if SMOKE else (3000, 1000)
train_idx, val_idx, test_idx = datasets.split(len(data), seed=0, stratify=data.y)
train, val, test = (data.subset(i[:n]) for i, n in ((train_idx, n_train), (val_idx, n_eval), (test_idx, n_eval)))
print(train.texts[0], "->", train.label_names[train.y[0]])"""),
    ("code", """with strategy.scope():
    ckpt = load_hf(kbert.assets.minilm_dir())          # any Hugging Face BERT/DistilBERT/ALBERT folder
    model = compile_classifier(build_classifier(ckpt.backbone, 3, pooling="mean"), learning_rate=1e-4)
pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=32 if SMOKE else 64)
train_ds = tasks.classification_dataset(train, pre, batch_size=32, shuffle=True)
val_ds = tasks.classification_dataset(val, pre, batch_size=64)
history = model.fit(train_ds, validation_data=val_ds, epochs=1 if SMOKE else 2, verbose=2)"""),
    ("code", """from kbert.tasks import metrics
logits = model.predict(tasks.classification_dataset(test, pre, batch_size=64), verbose=0)["logits"]
pred = logits.argmax(-1)
print(f"accuracy {metrics.accuracy(test.y, pred):.3f}   macro-F1 {metrics.macro_f1(test.y, pred, labels=range(3)):.3f}"
      f"   (majority class {np.bincount(test.y).max() / len(test):.3f})")
cm = metrics.confusion_matrix(test.y, pred, 3)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].imshow(cm, cmap="Blues")
axes[0].set(xticks=range(3), yticks=range(3), xticklabels=data.label_names, yticklabels=data.label_names,
            xlabel="predicted", ylabel="true", title="confusion matrix")
for (i, j), v in np.ndenumerate(cm):
    axes[0].text(j, i, int(v), ha="center", va="center")
for key in ("loss", "val_loss"):
    axes[1].plot(history.history[key], marker="o", label=key)
axes[1].set(xlabel="epoch", title="training curves"); axes[1].legend()
plt.show()"""),
    ("code", """from kbert.model_dir import save_model_dir
out = save_model_dir("runs/colab_sentiment", model, ckpt.tokenizer, task="classify", seq_len=pre.seq_len,
                     labels=data.label_names, pair=False, multi_label=False)
print("saved", out, sorted(os.listdir(out)))
print("next: kbert export tflite --model", out, "  |  kbert export serving --model", out, "--out serving/sentiment")"""),
]

NOTEBOOKS["02_pretrain_albert_sop"] = [
    ("md", """# Pretrain ALBERT with masked LM + sentence-order prediction
{badge}

From raw text to a pretrained encoder: train a SentencePiece vocabulary on the bundled Jane
Austen corpus, stream ALBERT pretraining examples (n-gram masking, dynamic masks every epoch,
sentence-order pairs) with tf.data, and train `AlbertPretrainer` with `model.fit`."""),
    *SETUP,
    ("code", """from kbert.data import corpus
from kbert.tokenizer_training import train_sentencepiece

docs = corpus.open_corpus("bundled")                   # or a folder of .txt files, or "tfds:wikipedia/..."
tokenizer = train_sentencepiece("bundled", vocab_size=2000 if SMOKE else 8000, out="runs/colab_albert/tokenizer")
print(tokenizer.vocabulary_size(), "pieces;", tokenizer.tokenize("It is a truth universally acknowledged."))"""),
    ("code", """from kbert.data.pretraining import pretraining_dataset
from kbert.training.pretrainer import AlbertPretrainer
import keras

seq_len, batch = (64, 16) if SMOKE else (128, 32)
ds = pretraining_dataset("bundled", tokenizer, seq_len=seq_len, batch_size=batch, objective="sop", seed=0,
                         repeat=True)
x, y = next(iter(ds))
print({k: tuple(v.shape) for k, v in x.items()}, {k: tuple(v.shape) for k, v in y.items()})
with strategy.scope():
    encoder = kbert.models.backbone("albert_tiny", vocabulary_size=tokenizer.vocabulary_size(),
                                    num_layers=2 if SMOKE else 4)
    model = AlbertPretrainer(encoder)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.01))
steps = 20 if SMOKE else 600
history = model.fit(ds, steps_per_epoch=steps // 4, epochs=4, verbose=2)"""),
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for key in ("mlm_loss", "sop_loss"):
    axes[0].plot(history.history[key], marker="o", label=key)
for key in ("mlm_accuracy", "sop_accuracy"):
    axes[1].plot(history.history[key], marker="o", label=key)
axes[0].set(title="losses", xlabel="epoch"); axes[1].set(title="accuracy", xlabel="epoch")
axes[0].legend(); axes[1].legend(); plt.show()"""),
    ("code", """# What the model predicts at masked positions of a held-out batch.
x, y = next(iter(ds))
pred = np.asarray(model(x)["mlm_logits"]).argmax(-1)
for i in range(3):
    pos = np.asarray(x["mask_positions"][i])
    weights = np.asarray(y["mlm_weights"][i]) > 0
    truth = tokenizer.detokenize(np.asarray(y["mlm_ids"][i])[weights][None])[0]
    guess = tokenizer.detokenize(pred[i][weights][None])[0]
    print(f"masked: {truth!s:<50}  predicted: {guess!s}")"""),
]

NOTEBOOKS["03_distill_distilbert"] = [
    ("md", """# Distil a fine-tuned teacher into a smaller student
{badge}

DistilBERT's recipe in Keras: a frozen teacher, a student initialised from every other teacher
layer, and `Distiller.fit` on L = α·CE(soft targets, T) + β·hard-label loss + γ·cosine(hidden
states). Here the teacher is the real MiniLM fine-tuned on sentiment tweets; the student has 3
layers. We compare accuracy, size and latency."""),
    *SETUP,
    ("code", """import time, keras
from kbert.checkpoints.hf import load_hf
from kbert.data import datasets, tasks
from kbert.preprocessing import preprocessor_for
from kbert.tasks.classifier import build_classifier, compile_classifier
from kbert.training.distiller import Distiller
from kbert.training.student_init import init_student, student_like

data = datasets.sentiment_tweets()
n_train, n_test = (128, 64) if SMOKE else (3000, 1000)
tr, _, te = datasets.split(len(data), seed=0, stratify=data.y)
train, test = data.subset(tr[:n_train]), data.subset(te[:n_test])
ckpt = load_hf(kbert.assets.minilm_dir())
pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=32 if SMOKE else 64)
train_ds = tasks.classification_dataset(train, pre, batch_size=32, shuffle=True)
test_ds = tasks.classification_dataset(test, pre, batch_size=64)
teacher = compile_classifier(build_classifier(ckpt.backbone, 3, pooling="mean"), 1e-4)
teacher.fit(train_ds, epochs=1 if SMOKE else 2, verbose=2)"""),
    ("code", """student_encoder = student_like(teacher, num_layers=3)
student = build_classifier(student_encoder, 3, pooling="mean")
print("student takes teacher layers", init_student(teacher, student))
distiller = Distiller(teacher, student)                 # T=2, alpha=5, beta=2, gamma=1
distiller.compile(optimizer=keras.optimizers.Adam(1e-4))
dh = distiller.fit(train_ds, epochs=1 if SMOKE else 2, verbose=2)
fig, ax = plt.subplots(figsize=(6, 3.5))
for key in ("ce_loss", "mlm_loss", "cos_loss"):
    ax.plot(dh.history[key], marker="o", label=key)
ax.set(title="distillation losses per epoch", xlabel="epoch"); ax.legend(); plt.show()"""),
    ("code", """def accuracy(model):
    logits = model.predict(test_ds, verbose=0)["logits"]
    return float((logits.argmax(-1) == test.y).mean())

def latency_ms(model, runs=5):
    x = pre(["a single tweet to classify, padded to the full length"])
    model(x)  # warm up, then time
    t = time.perf_counter()
    for _ in range(runs):
        model(x)
    return (time.perf_counter() - t) / runs * 1000

rows = [(name, m.count_params(), accuracy(m), latency_ms(m)) for name, m in (("teacher", teacher), ("student", student))]
print(f"{'model':<8} {'params':>12} {'accuracy':>9} {'latency ms':>11}")
for name, params, acc, ms in rows:
    print(f"{name:<8} {params:>12,} {acc:>9.3f} {ms:>11.1f}")
print(f"student keeps {rows[1][2] / max(rows[0][2], 1e-9):.1%} of the teacher's accuracy at "
      f"{rows[1][3] / rows[0][3]:.2f}x its latency")"""),
]

NOTEBOOKS["04_export_tflite"] = [
    ("md", """# Export to TFLite: every quantization mode, gated on accuracy
{badge}

A classifier becomes a phone-ready `.tflite` with metadata for MediaPipe Tasks and the TFLite
Task Library. Each mode is run in the interpreter on held-out real text and compared with the
Keras model before it is written; a model card records size, accuracy and latency. Then the
file runs in MediaPipe's `TextClassifier`, as an app would run it."""),
    *SETUP,
    ("code", """from kbert.checkpoints.hf import load_hf
from kbert.data import datasets, tasks
from kbert.model_dir import save_model_dir
from kbert.preprocessing import preprocessor_for
from kbert.tasks.classifier import build_classifier, compile_classifier

data = datasets.pang_lee_polarity()                    # 200 real movie-review sentences
ckpt = load_hf(kbert.assets.minilm_dir())
seq_len = 64
pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=seq_len)
model = compile_classifier(build_classifier(ckpt.backbone, 2, pooling="mean"), 1e-4)
model.fit(tasks.classification_dataset(data.subset(range(0, 200, 2)), pre, batch_size=16, shuffle=True),
          epochs=1 if SMOKE else 3, verbose=2)
model_dir = save_model_dir("runs/colab_tflite/model", model, ckpt.tokenizer, task="classify", seq_len=seq_len,
                           labels=data.label_names)"""),
    ("code", """from kbert.export import tflite
# 100 held-out sentences: the gate also runs MediaPipe on the raw strings and allows at most 1% of them
# to differ from kbert's tokenization (with 24, one sentence would already be 4%)
heldout = [data.texts[i] for i in range(1, 200, 2)]
modes = ["float32", "dynamic-int8"] if SMOKE else ["float32", "float16", "dynamic-int8", "int8", "mixed"]
results = {}
for mode in modes:
    try:
        r = tflite.export(model_dir, f"runs/colab_tflite/sentiment_{mode}.tflite", mode=mode, heldout=heldout,
                          latency_runs=3 if SMOKE else 20)
        results[mode] = r.card
    except kbert.KbertInputError as e:                # the accuracy gate refused this mode
        print(mode, "refused:", e)
for mode, card in results.items():
    gate = card["accuracy_vs_float"]
    print(f"{mode:>13}: {card['size_mb']:7.1f} MB, top-label agreement {gate['agreement']:.3f}, "
          f"max prob diff {gate['max_abs_diff']:.4f}, {gate['latency_ms']:.1f} ms")"""),
    ("code", """names = list(results)
sizes = [results[m]["size_mb"] for m in names]
lat = [results[m]["accuracy_vs_float"]["latency_ms"] for m in names]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].bar(names, sizes); axes[0].set(title="file size (MB)")
axes[1].bar(names, lat); axes[1].set(title="latency, batch 1 (ms)")
plt.show()
print(open("runs/colab_tflite/sentiment_float32.md").read()[:1500])   # the model card"""),
    ("code", """# Run the exported file the way an Android/iOS app does: MediaPipe Tasks' TextClassifier.
from mediapipe.tasks.python import text as mp_text
from mediapipe.tasks.python.core.base_options import BaseOptions
clf = mp_text.TextClassifier.create_from_options(
    mp_text.TextClassifierOptions(base_options=BaseOptions(model_asset_path="runs/colab_tflite/sentiment_float32.tflite")))
for sentence in heldout[:5]:
    top = clf.classify(sentence).classifications[0].categories[0]
    print(f"{top.category_name:>4} {top.score:.2f}  {sentence[:70]}")"""),
]

NOTEBOOKS["05_serving"] = [
    ("md", """# Serve raw text with TensorFlow Serving
{badge}

`kbert export serving` writes a versioned SavedModel whose signature takes raw strings:
tokenization runs in the graph (tf-text ops), so clients never tokenize. We export a classifier,
inspect it with `saved_model_cli`, load it without kbert, and build the REST request a client
sends to `tensorflow/serving`."""),
    *SETUP,
    ("code", """from kbert.checkpoints.hf import load_hf
from kbert.model_dir import save_model_dir
from kbert.tasks.classifier import build_classifier
from kbert.export.serving import export_serving

ckpt = load_hf(kbert.assets.minilm_dir())
model = build_classifier(ckpt.backbone, 3, pooling="mean")   # fine-tune it first (notebook 01); untrained here
model_dir = save_model_dir("runs/colab_serving/model", model, ckpt.tokenizer, task="classify", seq_len=64,
                           labels=["negative", "neutral", "positive"])
version_dir = export_serving(model_dir, "runs/colab_serving/sentiment", overwrite=True)
print(version_dir, sorted(os.listdir(version_dir)))"""),
    ("code", """import subprocess, sys
show = subprocess.run([sys.executable, "-c", "import tensorflow_text, sys; from tensorflow.python.tools import "
                       "saved_model_cli; sys.argv = ['saved_model_cli', 'show', '--dir', sys.argv[1], '--all']; "
                       "saved_model_cli.main()", version_dir], capture_output=True, text=True)
print(show.stdout[:2500])"""),
    ("code", """import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops, as the tensorflow/serving image does
served = tf.saved_model.load(version_dir)
out = served.signatures["serving_default"](text=tf.constant(["I love this car", "the update broke everything"]))
print({k: v.numpy() for k, v in out.items() if k in ("labels", "probabilities")})"""),
    ("code", """import json
request = {"signature_name": "serving_default", "instances": [{"text": "I love this car"}]}
print("docker run -p 8501:8501 -v $PWD/runs/colab_serving/sentiment:/models/sentiment -e MODEL_NAME=sentiment tensorflow/serving")
print("curl -X POST localhost:8501/v1/models/sentiment:predict -d '" + json.dumps(request) + "'")"""),
]


def build(name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}, "accelerator": "GPU", "colab": {"provenance": []}}
    for kind, src in cells:
        src = src.replace("{badge}", badge(name))
        nb.cells.append(nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{i:02d}"
    return nb


def main():
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), os.path.join(HERE, f"{name}.ipynb"))
        print("wrote", f"colab/{name}.ipynb")


if __name__ == "__main__":
    main()
