"""Long work outside web requests: dry runs, publishing, photo zips, index rebuilds.

The queue (:mod:`catalogue.jobs.queue`, Huey) only carries a job's id; what the
job is, its state and its progress live in our own ``job`` table
(:mod:`catalogue.jobs.models`), because a queue can lose a task whose consumer
is killed. A running job whose heartbeat went stale is shown as interrupted
and can be retried (:mod:`catalogue.jobs.service`).
"""
