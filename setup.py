"""kbert: BERT, DistilBERT and ALBERT on keras-hub, from raw text to phones and TF Serving."""

from setuptools import find_packages, setup

INSTALL = [
    "tensorflow==2.21.*",
    "keras==3.15.*",
    "keras-hub==0.32.*",
    "tensorflow-text==2.21.*",
    "tensorflow-datasets==4.9.10",
    "importlib_resources",
    "safetensors",
    "sentencepiece",
    "numpy",
    "tqdm",
    "matplotlib",
    "tensorboard",
]

EXTRAS = {
    "test": ["pytest", "hypothesis", "pytest-timeout", "nbclient", "nbformat", "ipykernel"],
    # Reference implementation for parity checks; about 1.2 GB, never part of the default install.
    "parity": ["torch==2.13.0", "transformers"],
    # On-device runtimes used to verify exported .tflite files.
    "mobile": ["mediapipe==1.2.3"],
    # Data and baselines for fine-tuning recipes and benchmarks.
    "tasks": ["scikit-learn", "seqeval", "rdata"],
    "serving": ["tensorflow-serving-api==2.21.*"],
    # Benchmarks only (bench/): ONNX Runtime beside torch and kbert, as a Hugging Face user runs BERT on CPU.
    "bench": ["torch==2.13.0", "transformers", "onnxruntime", "onnx", "onnxscript", "scikit-learn"],
}

setup(
    name="kbert",
    version="0.1.0",
    description="BERT, DistilBERT and ALBERT for Keras: pretrain, distil, fine-tune, ship to TFLite and TF Serving",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["kbert", "kbert.*"]),
    package_data={"kbert": ["data/corpus/*", "data/qa/*", "configs/*"]},
    install_requires=INSTALL,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["kbert=kbert.cli:main"]},
)
