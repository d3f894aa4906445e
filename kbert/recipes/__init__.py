"""Training recipes: one function per job, `recipe(config, workdir)`, with a typed config (Flax's
`train_and_evaluate(config, workdir)`). The CLI parses arguments into these configs and calls them.

    >>> from kbert.recipes.finetune import FinetuneConfig
    >>> FinetuneConfig(task="ner", data="wnut16").task
    'ner'
"""
