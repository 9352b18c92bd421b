"""The scripts here run as subprocesses (the original ``tensorflow_hub`` client, a TF-free
server process): doctest collection must not import them."""

collect_ignore_glob = ["*.py"]
