"""Data: corpora and pretraining examples (corpus.py, pretraining.py), task features and datasets (tasks.py, datasets.py)."""
