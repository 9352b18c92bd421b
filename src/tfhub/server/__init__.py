"""``tfhub serve``: a self-hosted model hub that old and new clients load from.

Layers, from the bottom: :mod:`~tfhub.server.settings`, :mod:`~tfhub.server.names`, the
database (:mod:`~tfhub.server.db`, :mod:`~tfhub.server.database`, Alembic migrations in
``migrations/``), storage back-ends (:mod:`~tfhub.server.storage`), the publish pipeline
(:mod:`~tfhub.server.pipeline`), queries (:mod:`~tfhub.server.catalog`), and on top the
web app (:mod:`~tfhub.server.app`: the hub URL protocol, the JSON API, publishing) and its
runner (:mod:`~tfhub.server.runner`). Only :mod:`~tfhub.server.examples` imports
TensorFlow, in a child process, to build the example models on first start.

Importing this package imports nothing but this docstring.
"""
