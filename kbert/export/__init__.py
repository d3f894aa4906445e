"""Export: TFLite for phones (tflite.py on top of tflite_spec, tflite_convert, litert, accuracy_gate,
runtime_check, metadata, model_card, publish; string_in.py) and TF Serving (serving.py, warmup.py)."""
