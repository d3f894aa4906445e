"""The quickstart recipe's settings: plain fine-tuning settings (`kbert.recipes.finetune.FinetuneConfig`
fields) for real MiniLM on the sentiment tweets, sized for about 10 minutes on 2 CPU cores, and the
smaller `SMOKE` overrides (`kbert quickstart --smoke`, notebooks and tests). `kbert quickstart`
(kbert/cli/quickstart.py) and the benches that reproduce its model read them from here.

    >>> from kbert.recipes.finetune import FinetuneConfig
    >>> FinetuneConfig.from_dict({**FinetuneConfig().to_dict(), **FINETUNE, **SMOKE}).limit
    200
"""

FINETUNE = dict(task="classify", model="minilm", data="tweets", limit=3000, eval_limit=1000, seq_len=64,
                batch_size=32, epochs=2, learning_rate=1e-4, pooling="mean", dropout=0.1, patience=1)
# eval_limit 300: below ~200 validation examples the gate cannot show a drop <= 1 point even for an
# exact copy (upper end of the interval 1.96 / (n + 2) x 100 points).
SMOKE = dict(limit=200, eval_limit=300, seq_len=32, epochs=1)
