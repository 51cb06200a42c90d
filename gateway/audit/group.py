"""Group commit of audit entries: the entries of concurrent requests share one transaction.

A read's audit entry must be durable before its answer leaves, and the chain must stay one
strictly ordered list. Committing each entry on its own costs a transaction, a turn on the
head row's lock and a WAL flush (fsync) per request, and the lock serialises every worker
on those round trips. The committer is one thread per process: requests hand it their
prepared entries (`submit`) and wait on a future; it takes everything pending (up to
`max_batch`), chains it in arrival order under the head lock (`batch.append_many`: one
place-taking, one multi-row insert), commits once and only then resolves the futures, with
the entry's seq or with the exception that kept the batch from committing. While one batch
commits, the next one gathers: no timer, no added delay when the load is light.

Several processes (uvicorn workers, replicas) each run a committer; their batches and the
single appends of writes (which keep their entry inside their own transaction) take places
under the same row lock, so the chain stays contiguous and ordered across all of them.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

from sqlalchemy import Engine

from gateway.audit.batch import Prepared, append_many
from gateway.audit.writer import CheckpointPolicy, SignerLike

logger = logging.getLogger("gateway.audit")


class CommitterClosed(RuntimeError):
    """The committer was closed: no entry is accepted any more."""


class GroupCommitter:
    """Commits submitted audit entries in groups, one transaction per group, in order.

    The thread starts on the first `submit` and ends after `idle_seconds` without work (so
    processes that build many apps, like the tests, keep no idle threads); `close` commits
    what is pending and refuses what comes after.
    """

    def __init__(self, engine: Engine, signer: SignerLike, policy: CheckpointPolicy, *,
                 max_batch: int = 512, idle_seconds: float = 5.0) -> None:
        self.engine = engine
        self.signer = signer
        self.policy = policy
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._pending: list[tuple[Prepared, Future[int]]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # groups committed (for the benchmarks and tests)
        self.entries = 0

    def submit(self, item: Prepared) -> Future[int]:
        """Queue `item`; the future resolves with its seq once committed, or fails."""
        future: Future[int] = Future()
        # Running at once: a waiter that goes away (a client that disconnected) cannot
        # cancel it, so an entry whose read ran is always written.
        future.set_running_or_notify_cancel()
        with self._cond:
            if self._closed:
                raise CommitterClosed("the audit committer is closed")
            self._pending.append((item, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-committer",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is pending, then stop; later `submit`s raise `CommitterClosed`."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify()
        if thread is not None:
            thread.join(timeout)

    def _take(self) -> list[tuple[Prepared, Future[int]]] | None:
        """The next group, or None when the thread should end (idle or closed)."""
        with self._cond:
            while not self._pending:
                if self._closed or not self._cond.wait(self.idle_seconds) and not self._pending:
                    self._thread = None
                    return None
            group = self._pending[:self.max_batch]
            del self._pending[:self.max_batch]
            return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            self._commit(group)

    def _commit(self, group: list[tuple[Prepared, Future[int]]]) -> None:
        try:
            with self.engine.begin() as conn:
                seqs = append_many(conn, [item for item, _ in group], self.signer, self.policy)
        except Exception as exc:  # every waiter gets the failure, none a success
            logger.warning("audit group of %d entries could not be committed", len(group),
                           exc_info=True)
            for _, future in group:
                future.set_exception(exc)
            return
        self.batches += 1
        self.entries += len(group)
        for (_, future), seq in zip(group, seqs, strict=True):
            future.set_result(seq)
