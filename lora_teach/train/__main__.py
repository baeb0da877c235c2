"""``python -m lora_teach.train``: the command line of :mod:`lora_teach.train.cli`."""

import sys

from lora_teach.train.cli import main

if __name__ == "__main__":  # importing this file has no side effects
    sys.exit(main())
