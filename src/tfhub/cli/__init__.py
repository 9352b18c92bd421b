"""The ``tfhub`` command line: ``download`` and ``cache`` (more commands join as they land).

Example::

    $ tfhub download https://hub.example.com/models/bert/1
    /home/me/.cache/tfhub/models/hub.example.com_models_bert_1-1c2d.../model
"""

from tfhub.cli.main import main

__all__ = ["main"]
