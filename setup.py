"""kbert: BERT, DistilBERT and ALBERT on keras-hub, from raw text to phones and TF Serving."""

from setuptools import find_packages, setup

# Ranges, not pins: a Colab runtime keeps the TensorFlow / Keras it ships when they are in range
# (no reinstall, no runtime restart). The ranges are the versions kbert's private-API touches were
# checked on (kbert/_compat/__init__.py, TESTED); CI runs the upper ends (scripts/bootstrap.sh).
# tensorflow-text must have the same minor version as tensorflow (pip picks the matching one).
INSTALL = [
    "tensorflow>=2.18,<2.22",
    "keras>=3.10,<3.16",
    "keras-hub>=0.21,<0.33",
    "tensorflow-text>=2.18,<2.22",
    "tensorflow-datasets>=4.9",
    "importlib_resources",
    "safetensors",
    "sentencepiece",
    "numpy",
    "tqdm",
    "matplotlib",
    "tensorboard",
    # LiteRT: the interpreter kbert runs .tflite files with (tf.lite.Interpreter is deprecated since TF 2.20)
    "ai-edge-litert>=2.0,<2.4",
]

EXTRAS = {
    "test": ["pytest", "hypothesis", "pytest-timeout", "nbclient", "nbformat", "ipykernel", "build"],
    # Reference implementation for parity checks; about 1.2 GB, never part of the default install.
    # huggingface_hub resolves Hub names ("bert-base-uncased") for kbert.checkpoints.hf.load_hf.
    "parity": ["torch==2.13.0", "transformers", "huggingface_hub"],
    "hub": ["huggingface_hub"],
    # On-device runtimes used to verify exported .tflite files.
    "mobile": ["mediapipe==1.2.3"],
    # Data and baselines for fine-tuning recipes and benchmarks.
    "tasks": ["scikit-learn", "seqeval", "rdata"],
    "serving": ["tensorflow-serving-api>=2.18,<2.22"],  # same minor as tensorflow (pip resolves them together)
    # Benchmarks only (bench/): ONNX Runtime beside torch and kbert, as a Hugging Face user runs BERT on CPU.
    "bench": ["torch==2.13.0", "transformers", "onnxruntime", "onnx", "onnxscript", "scikit-learn"],
}

# The import name is `kbert`; the distribution name is `keras-kbert` because `kbert` on PyPI is an
# unrelated 2020 project (kbert 0.1.2): `pip install kbert` would install someone else's code.
DISTRIBUTION = "keras-kbert"

setup(
    name=DISTRIBUTION,
    version="0.1.0",
    description="BERT, DistilBERT and ALBERT for Keras: pretrain, distil, fine-tune, ship to TFLite and TF Serving",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=["kbert", "kbert.*"]),
    package_data={"kbert": ["data/corpus/*", "data/qa/*", "configs/*"]},
    install_requires=INSTALL,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["kbert=kbert.cli:main"]},
)
