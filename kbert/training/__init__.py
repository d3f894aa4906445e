"""Training: pretrainers, distiller and callbacks, each a keras.Model / keras.callbacks.Callback in its own file."""
