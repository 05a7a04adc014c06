"""SQLite's writers take their turn in arrival order (issue 21): the in-process queue in front
of BEGIN IMMEDIATE, so no counter waits behind later arrivals polling SQLite's busy handler."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from app.db import WriterQueue, make_engine


def test_writers_are_served_in_the_order_they_arrived() -> None:
    queue = WriterQueue(timeout_seconds=5)
    order: list[int] = []
    first = object()
    queue.acquire(first)

    def writer(number: int) -> None:
        owner = object()
        queue.acquire(owner)
        order.append(number)
        queue.release(owner)

    threads = []
    for number in range(8):
        thread = threading.Thread(target=writer, args=(number,))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # arrive one after another while the first still writes
    queue.release(first)
    for thread in threads:
        thread.join(5)

    assert order == list(range(8))


def test_only_the_owner_ends_its_turn_and_a_timeout_gives_up_its_place() -> None:
    queue = WriterQueue(timeout_seconds=0.05)
    holder, stranger, late = object(), object(), object()
    queue.acquire(holder)

    queue.release(stranger)  # not its turn: nothing happens
    started = time.monotonic()
    queue.acquire(late)  # gives up after the timeout (SQLite's busy handler takes over)
    assert time.monotonic() - started >= 0.05
    queue.release(holder)
    # The queue is free again: the next writer goes straight in.
    queue.acquire(stranger)
    queue.release(stranger)


def test_a_committed_or_rolled_back_transaction_hands_the_turn_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    done: list[int] = []

    def write(number: int, fail: bool) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": number})
                if fail:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        done.append(number)

    threads = [threading.Thread(target=write, args=(n, n % 2 == 0)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(done) == list(range(6))
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 3, 5]
    engine.dispose()
