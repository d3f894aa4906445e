"""Export: TFLite (tflite.py, metadata.py, model_card.py) and TF Serving (serving.py)."""
