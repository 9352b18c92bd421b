"""The TensorFlow layer of tfhub: loading models and building Keras layers.

Everything here imports TensorFlow; nothing in :mod:`tfhub.core` imports this package.
"""
