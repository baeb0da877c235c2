"""What the chapters need around the package: the session (seeds, threads, profile), live widgets,
diagrams.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.notebook import diagrams, live, session
from lora_teach.notebook.diagrams import *  # noqa: F403
from lora_teach.notebook.live import *  # noqa: F403
from lora_teach.notebook.session import *  # noqa: F403

__all__ = [*diagrams.__all__, *live.__all__, *session.__all__]
