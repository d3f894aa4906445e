"""Every touch of a private TF / Keras / keras-hub / tf-text API, one module per area, as explicit
functions or context managers that check the installed version first; nothing is patched at import."""
