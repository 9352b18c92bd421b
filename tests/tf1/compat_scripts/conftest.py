"""The scripts here run as subprocesses (``tests/tf1/test_compat_mode.py``): collecting their
doctests must not import them, which would switch pytest's process to TF1 behaviour."""

collect_ignore_glob = ["*.py"]
