"""The one kind of error a rule raises to refuse a change, with a message for whoever asked.

Services raise a subclass (a publish, a job); the workspace and the job worker show its
message in the asker's language and roll back, whatever feature it came from.
"""

from __future__ import annotations


class Refused(ValueError):
    """A change the rules refuse; ``str()`` is the message (already translated)."""
