"""The scripts here are run as subprocesses by ``tests/tf/test_compat_mode.py``: importing
them (doctest collection) must not switch the pytest process to TF1 behaviour."""

collect_ignore_glob = ["*.py"]
