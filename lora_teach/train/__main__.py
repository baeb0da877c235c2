"""``python -m lora_teach.train``: the command line of :mod:`lora_teach.train.cli`."""

import sys

from lora_teach.train.cli import main

if __name__ == "__main__":  # a spawned child imports this module as __mp_main__
    sys.exit(main())
