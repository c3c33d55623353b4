"""Named points where the kill -9 tests stop this process as a crash would.

``CATALOGUE_KILL_AT=drain.applied`` (say) makes the process that reaches that point
send itself SIGKILL: no ``finally``, no ``atexit``, exactly what a power cut or the
OOM killer leaves behind. The tests then check that the next process recovers
with nothing lost or half-written. Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "CATALOGUE_KILL_AT"


def point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
