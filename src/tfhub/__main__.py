"""``python -m tfhub``: the command line."""

from tfhub.cli import main

if __name__ == "__main__":
    main()
