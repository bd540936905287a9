"""Whose turn it is: a model's waiting line, dealt round-robin between visitors.

First come, first served lets a visitor with eight requests waiting delay everyone who comes
after them by eight requests. The line here deals turns in rounds instead: each visitor (a client
address; without one, a browser session; scripts and tests together as one) has at most one
request in each round, a newcomer joins the round being served now, and within a round requests
keep their arrival order. A visitor's single request therefore waits for at most one request of
each other visitor, however many those have queued; one visitor alone is served in arrival order.

Background work (a static export's views) comes after every visitor's request, whatever its round;
promoted (a visitor now waits for it), it takes its place by its round.

A request's round is fixed when it arrives and the line is kept sorted by it, so the head is the
next to run, an index is a place in line, and a batch (or a joined generation) that collects
compatible requests in line order follows the same turns. A request given up before its turn
gives its round back: the visitor's later requests move up one round (asking for something else
does not send a visitor to the back).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Protocol


class Queued(Protocol):
    client: str | None
    owner: str | None
    background: bool


def visitor(job: Queued) -> Hashable:
    """Whose turn a request uses: its address, else its session (None: scripts and tests)."""
    return job.client or job.owner


class FairLine:
    """The waiting requests of one queue in round-robin order. Not thread-safe: the queue's lock
    guards it."""

    def __init__(self) -> None:
        self._line: list[Queued] = []
        self._round: dict[Queued, int] = {}  # waiting request -> its round
        self._latest: dict[Hashable, int] = {}  # visitor -> the round of their latest request
        self._serving = 0  # the round of the latest request that started

    def append(self, job: Queued) -> None:
        """A new request: one round after the visitor's latest, and not before the one served now."""
        who = visitor(job)
        turn = max(self._serving, self._latest.get(who, self._serving - 1) + 1)
        self._latest[who] = turn
        self._place(job, turn)

    def start(self, job: Queued) -> None:
        """`job` leaves the line to run (or to be dropped at its turn): its round is served now."""
        self._line.remove(job)
        self._serving = max(self._serving, self._round.pop(job))
        # a visitor whose latest round is before the one served now is like a newcomer
        self._latest = {who: turn for who, turn in self._latest.items() if turn >= self._serving}

    def remove(self, job: Queued) -> None:
        """`job` gives up its place before its turn; the visitor's later requests move up a round."""
        self._line.remove(job)
        gone = self._round.pop(job)
        who = visitor(job)
        later = [j for j in self._line if visitor(j) == who and self._round[j] > gone]
        for j in later:
            self._line.remove(j)
        for j in later:
            self._place(j, self._round.pop(j) - 1)
        if self._latest.get(who, gone - 1) >= gone:
            self._latest[who] -= 1

    def promote(self, job: Queued) -> None:
        """Background work a visitor now waits for: to its place among the visitors' requests."""
        self._line.remove(job)
        job.background = False
        self._place(job, self._round.pop(job))

    def _place(self, job: Queued, turn: int) -> None:
        self._round[job] = turn
        order = (job.background, turn)
        at = len(self._line)
        while at > 0 and (self._line[at - 1].background, self._round[self._line[at - 1]]) > order:
            at -= 1
        self._line.insert(at, job)

    def index(self, job: Queued) -> int:
        return self._line.index(job)

    def __getitem__(self, at: int) -> Queued:
        return self._line[at]

    def __contains__(self, job: object) -> bool:
        return job in self._round

    def __iter__(self) -> Iterator[Queued]:
        return iter(list(self._line))

    def __len__(self) -> int:
        return len(self._line)
