"""``python -m tfhub``: the command line."""

from tfhub.cli import main

main()
