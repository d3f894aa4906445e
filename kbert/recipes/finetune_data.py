"""The fine-tuning recipe's data: named real sets, TFDS names and local files per task, and the
train / validation / test splits (Flax's `input_pipeline.py`).

    >>> from kbert.recipes.finetune_data import NAMED
    >>> sorted(NAMED["classify"])
    ['pang_lee', 'tweets']

- classify: `tweets` (38k sentiment tweets, 3 classes), `pang_lee` (200 reviews), `tfds:glue/sst2`,
  `tfds:glue/mnli`, `tfds:imdb_reviews`, FILE.csv|.tsv|.jsonl (text / label / text_b columns,
  multi-label "a|b" labels);
- ner: `wnut16`, `tfds:conll2003`, FILE.conll|.txt (token ... tag per line);
- qa: `handwritten` (kbert's 35 SQuAD v2 questions), `tfds:squad`, `tfds:squad/v2.0`, FILE.json|.jsonl.

Named sets come from `kbert.data.sources`, files are read by the task class (`read_file`, so a task
registered later reads its own files).

Without `eval_data`, local and named sets are split 80/10/10 (seeded, stratified by class); TFDS
sets use their train and validation splits. An evaluation file's labels take the training data's
ids: a label training never saw is an error naming the file and row.
"""

from __future__ import annotations

import os

from kbert.data import sources

NAMED = {task: sources.named(task) for task in ("classify", "ner", "qa")}
TFDS_VALIDATION = {"glue/mnli": "validation_matched", "imdb_reviews": "test", "conll2003": "dev"}


def sample(data, n, seed):
    """At most `n` examples of `data` (seeded, in their original order)."""
    import numpy as np

    if n is None or n >= len(data):
        return data
    return data.subset(np.sort(np.random.default_rng(seed).permutation(len(data))[:n]))


def read_data(config, spec: str, label_names=None):
    """Load one data spec for `config.task` (a ClassificationData, NerData or QaData).

    `label_names` (the training data's) fixes the label ids of an evaluation file."""
    from kbert.data import datasets
    from kbert.errors import KbertInputError
    from kbert.tasks import registry

    task = config.task
    if spec in sources.named(task):
        data = sources.load(spec)
    elif spec.startswith("tfds:"):
        name, _, split = spec[5:].partition(":")
        if datasets.TFDS.get(name, {}).get("task") != task:
            raise KbertInputError(f"--data {spec}: not a {task} dataset; TFDS sets for {task}: "
                                  f"{[n for n, s in datasets.TFDS.items() if s['task'] == task]}")
        data = datasets.load_tfds(name, split or "train")
    elif os.path.isfile(spec):
        data = registry.task_class(task).read_file(spec, config, label_names=label_names)
    else:
        raise KbertInputError(f"--data {spec}: not a file, a tfds: name, or one of {sources.named(task)}")
    return data


def splits(config):
    """(train, validation, test) containers following the module docstring's rules."""
    from kbert.data import datasets

    data = read_data(config, config.data)
    seed = int(config.seed)
    if config.eval_data:
        # the evaluation file's labels take the training data's ids (never a list of its own)
        train = data
        evaluation = read_data(config, config.eval_data, getattr(data, "label_names", None))
        val, test = evaluation, evaluation
    elif config.data.startswith("tfds:") and ":" not in config.data[5:]:
        name = config.data[5:]
        train, val = data, read_data(config, f"tfds:{name}:{TFDS_VALIDATION.get(name, 'validation')}")
        test = val
    else:
        # stratified by class for single-label classification (not by a regression target or tags)
        strat = data.y if isinstance(data, datasets.ClassificationData) and data.y.ndim == 1 else None
        tr, va, te = datasets.split(len(data), (0.8, 0.1, 0.1), seed=seed, stratify=strat)
        train, val, test = data.subset(tr), data.subset(va), data.subset(te)
    return (sample(train, config.limit, seed), sample(val, config.eval_limit, seed + 1),
            sample(test, config.eval_limit, seed + 2))
