"""Running a job's read-only statements chunk by chunk on several connections at once.

A PostgreSQL statement runs on one server process, one core: a job that aggregates a million
customers chunk by chunk on one connection leaves the other cores idle, while the plain
GROUP BY it is measured against gets parallel workers. Here each of `workers` threads holds
its own connection and takes the next chunk as it finishes one; the caller consumes the
results in its own thread (numpy placement, progress) in the order they finish. The
statements only read, each at READ COMMITTED (a snapshot per statement, as on one
connection), so the results are the same as a serial pass.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from gateway.store.bulk import aggregate_memory

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")


def default_workers(engine: Engine) -> int:
    """Connections to aggregate on: two on PostgreSQL (the server runs each on its own
    core), one on SQLite (its statements run inside this process, under the GIL)."""
    return 2 if engine.dialect.name == "postgresql" else 1


def run_chunks(engine: Engine, chunks: Sequence[Chunk], work: Callable[[Connection, Chunk], Result],
               workers: int) -> Iterator[tuple[Chunk, Result]]:
    """(chunk, work(conn, chunk)) for every chunk, as they finish; `workers` connections.

    With one worker, the chunks run in order in the calling thread. An error in a worker
    stops the others after their current chunk and is raised here.
    """
    if workers <= 1 or len(chunks) <= 1:
        with engine.connect() as conn, aggregate_memory(conn):
            for chunk in chunks:
                yield chunk, work(conn, chunk)
        return
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for k in range(len(chunks)):
        todo.put(k)
    done: queue.SimpleQueue[tuple[int, Any, BaseException | None]] = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        try:
            with engine.connect() as conn, aggregate_memory(conn):
                while not stop.is_set():
                    try:
                        k = todo.get_nowait()
                    except queue.Empty:
                        return
                    done.put((k, work(conn, chunks[k]), None))
        except BaseException as exc:  # noqa: BLE001 (handed to the consuming thread, which raises it)
            done.put((-1, None, exc))

    threads = [threading.Thread(target=worker, name=f"aggregate-{n}", daemon=True)
               for n in range(min(workers, len(chunks)))]
    for thread in threads:
        thread.start()
    try:
        for _ in range(len(chunks)):
            k, result, error = done.get()
            if error is not None:
                raise error
            yield chunks[k], result
    finally:
        stop.set()
        for thread in threads:
            thread.join()
