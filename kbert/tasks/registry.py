"""The task registry: task name -> task model class, in one place.

    >>> from kbert.tasks import registry
    >>> registry.names()
    ['classify', 'embed', 'ner', 'qa']
    >>> registry.task_class("ner").__name__
    'TokenClassifier'

Each task is one class (one file under `kbert/tasks/`) that knows its name (`cls.task`), its
features (`prepare`), loss and metrics (`default_loss`, `default_metrics`), decoding (`decode`),
phone-facing outputs (`phone_graph`), and its export contract (`kbert.tasks.contract`: gate metric,
TFLite metadata, serving signature), which the exporters read through `export_spec(name)`; what a
model's settings are for the exporters comes from `export_meta()`. A new task is a new `TaskModel`
subclass passed to `register` (a decorator): nothing else to edit. Importing this module imports every
built-in task module, so Keras can load any saved kbert task model (`load`).
"""

from __future__ import annotations

import os

from kbert.errors import KbertInputError
from kbert.tasks.classifier import TextClassifier
from kbert.tasks.embedder import TextEmbedder
from kbert.tasks.encoder import EncoderExport
from kbert.tasks.question_answerer import QuestionAnswerer
from kbert.tasks.task_model import TaskModel
from kbert.tasks.token_classifier import TokenClassifier

TASKS: dict[str, type] = {}


def register(cls):
    """Register a `TaskModel` subclass under `cls.task` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, TaskModel)) or not cls.task:
        raise KbertInputError(f"{cls!r} is not a TaskModel subclass with a `task` name")
    if TASKS.get(cls.task, cls) is not cls:
        raise KbertInputError(f"task {cls.task!r} is already registered to {TASKS[cls.task].__name__}")
    TASKS[cls.task] = cls
    return cls


for _cls in (TextClassifier, TokenClassifier, QuestionAnswerer, TextEmbedder):
    register(_cls)

# export-only entries: no task model, but the TFLite exporter knows how to ship them
EXPORT_ONLY: dict[str, type] = {EncoderExport.task: EncoderExport}


def names() -> list[str]:
    return sorted(TASKS)


def task_class(name: str) -> type:
    """The class registered for task `name`."""
    if name not in TASKS:
        raise KbertInputError(f"unknown task {name!r}; expected one of {', '.join(names())}")
    return TASKS[name]


def export_names() -> list[str]:
    """Every task the exporters take: the registered task models and the export-only entries."""
    return sorted(EXPORT_ONLY) + names()


def export_spec(name: str) -> type:
    """The export contract (`kbert.tasks.contract.ExportContract`) of task `name`: its task class,
    or an export-only entry such as the bare `encoder`."""
    if name in TASKS:
        return TASKS[name]
    if name in EXPORT_ONLY:
        return EXPORT_ONLY[name]
    raise KbertInputError(f"unknown task {name!r}; expected one of {', '.join(export_names())}")


def task_of(model) -> str | None:
    """The registered task name of a task model (None for other models)."""
    return model.task if isinstance(model, TaskModel) and model.task in TASKS else None


def load(path, compile: bool = True) -> TaskModel:
    """Any saved kbert task model: a `.keras` file from `save()`, or a kbert model directory (one
    written before the task classes existed is converted: same weights, settings from kbert.json)."""
    from kbert.tasks import sources

    path = os.fspath(path)
    if sources.is_saved_model_file(path):
        model = sources.load_keras_file(path, compile=compile)
        if not isinstance(model, TaskModel):
            raise KbertInputError(f"{path} holds a {type(model).__name__}, not a kbert task model")
        return model
    if sources.is_model_dir(path):
        task = sources.read_model_dir_meta(path).get("task")
        if task not in TASKS:
            raise KbertInputError(f"{path}: a {task!r} model directory is not a task model "
                                  f"(tasks: {', '.join(names())})")
        return task_class(task).from_preset(path)
    raise KbertInputError(f"{path}: not a .keras file or a kbert model directory")
