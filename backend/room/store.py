"""Where the room's questions and answers live: one small interface, two stores.

- `MemoryStore` (the default): in this server's memory; nothing to install; bounded (at most
  `MAX_QUESTIONS` questions, each with at most `MAX_ANSWERS` answers) and expiring (`TTL_SECONDS`).
- `RedisStore` (`DASHBOARD_ROOM_STORE=redis://host:port/db`): in Redis, so several app servers
  behind a load balancer share the room; each answer is one Lua script, atomic across servers.

Rules both keep (the tests run them against both):
- one answer per voter (a browser: see `ui.room.voter`); answering again before the reveal
  changes it, a repeat of the same answer changes nothing; after the reveal answers are refused;
- at most `per_address` voters from one address per question: a flood of answers from one
  address (new voters each time) stops moving the count there;
- only whoever holds a question's secret (the presenter's session; never in a link) can reveal or
  close it; a presenter holds at most `most_open` questions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from backend.room.questions import MAX_FREE_TEXT_CHARS, Question, Tally
from backend.runtime.errors import DashboardError
from backend.runtime.public_mode import is_public

STORE_ENV = "DASHBOARD_ROOM_STORE"
TTL_SECONDS = 3 * 3600  # a question and its answers, from when it was asked
MAX_QUESTIONS = 500  # in a server's memory (the oldest goes first)
MAX_ANSWERS = 2000  # to one question
MAX_TYPED_SHOWN = 12  # typed answers that matched no choice, listed at the reveal
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: typed from a projector
CODE_LENGTH = 6
# What `answer` says happened.
COUNTED, CHANGED, UNCHANGED, REVEALED, UNKNOWN, REFUSED, FULL = (
    "counted", "changed", "unchanged", "revealed", "unknown", "refused", "full")
OTHER = -1  # a typed answer that matched no choice


PER_ADDRESS_ENV = "DASHBOARD_ROOM_ANSWERS_PER_ADDRESS"


def most_open() -> int:
    """Questions one presenter's session may hold open at once."""
    return 3 if is_public() else 10


def answers_per_address() -> int:
    """Voters counted from one address per question (a class behind one router shares one
    address: the public default leaves room for a large one). `DASHBOARD_ROOM_ANSWERS_PER_ADDRESS` sets it."""
    raw = os.environ.get(PER_ADDRESS_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return 80 if is_public() else 1000


class RoomStoreError(DashboardError):
    """The store cannot do what was asked (unreachable, or a limit); the message is for the page."""


def _too_many(most_open: int) -> RoomStoreError:
    return RoomStoreError("At most {most} questions can be open at once: close one first.", most=most_open)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def clean_typed(typed: str) -> str:
    """A typed answer as kept: one line, at most `MAX_FREE_TEXT_CHARS` characters."""
    return " ".join(str(typed).split())[:MAX_FREE_TEXT_CHARS]


class RoomStore(ABC):
    @abstractmethod
    def open(self, question: Question, secret: str, presenter: str, most_open: int) -> str:
        """Keep `question`; return its code. Raises `RoomStoreError` past `most_open` questions of `presenter`."""

    @abstractmethod
    def question(self, code: str) -> Question | None: ...

    @abstractmethod
    def answer(self, code: str, voter: str, choice: int, address: str, per_address: int, typed: str = "") -> str:
        """Record `voter`'s answer (`choice`, or `OTHER` with `typed`); one of COUNTED, CHANGED,
        UNCHANGED, REVEALED, UNKNOWN, REFUSED (the address's cap), FULL."""

    @abstractmethod
    def mine(self, code: str, voter: str) -> int | None:
        """`voter`'s answer so far (a choice or OTHER), or None."""

    @abstractmethod
    def tally(self, code: str) -> Tally | None: ...

    @abstractmethod
    def revealed(self, code: str) -> bool | None:
        """Whether the question was revealed; None when it is not known (anymore)."""

    @abstractmethod
    def reveal(self, code: str, secret: str) -> bool:
        """Reveal, if `secret` is the question's; True if it is (now) revealed."""

    @abstractmethod
    def close(self, code: str, secret: str) -> bool:
        """Forget the question and its answers, if `secret` is the question's."""


@dataclass
class _Room:
    question: Question
    digest: str
    presenter: str
    created: float
    revealed: bool = False
    answers: dict[str, int] = field(default_factory=dict)  # voter -> choice
    typed: dict[str, str] = field(default_factory=dict)  # voter -> a typed answer matching no choice
    voters_by_address: dict[str, set[str]] = field(default_factory=dict)


def _tally(question: Question, answers: list[int], typed: list[str]) -> Tally:
    counts = [0] * len(question.choices)
    for choice in answers:
        if 0 <= choice < len(counts):
            counts[choice] += 1
    shown = tuple(dict.fromkeys(typed))[:MAX_TYPED_SHOWN]
    return Tally(tuple(counts), question.model, question.model_choice, others=answers.count(OTHER), typed=shown)


class MemoryStore(RoomStore):
    def __init__(self, max_questions: int = MAX_QUESTIONS, ttl: float = TTL_SECONDS, clock=time.monotonic) -> None:
        self.max_questions, self.ttl, self._clock = max_questions, ttl, clock
        self._rooms: dict[str, _Room] = {}  # oldest first
        self._lock = threading.Lock()

    def _live(self, code: str) -> _Room | None:
        room = self._rooms.get(code)
        if room is not None and self._clock() - room.created > self.ttl:
            del self._rooms[code]
            return None
        return room

    def _expire(self) -> None:
        now = self._clock()
        for code in [c for c, r in self._rooms.items() if now - r.created > self.ttl]:
            del self._rooms[code]
        while len(self._rooms) >= self.max_questions:
            del self._rooms[next(iter(self._rooms))]

    def open(self, question: Question, secret: str, presenter: str, most_open: int) -> str:
        with self._lock:
            self._expire()
            if sum(r.presenter == presenter for r in self._rooms.values()) >= most_open:
                raise _too_many(most_open)
            code = new_code()
            while code in self._rooms:
                code = new_code()
            self._rooms[code] = _Room(question, _digest(secret), presenter, self._clock())
            return code

    def question(self, code: str) -> Question | None:
        with self._lock:
            room = self._live(code)
            return room.question if room else None

    def answer(self, code: str, voter: str, choice: int, address: str, per_address: int, typed: str = "") -> str:
        with self._lock:
            room = self._live(code)
            if room is None:
                return UNKNOWN
            if room.revealed:
                return REVEALED
            old = room.answers.get(voter)
            typed = clean_typed(typed) if choice == OTHER else ""
            if old is not None:
                if old == choice and room.typed.get(voter, "") == typed:
                    return UNCHANGED
                room.answers[voter] = choice
                room.typed.pop(voter, None)
                if typed:
                    room.typed[voter] = typed
                return CHANGED
            voters = room.voters_by_address.setdefault(address, set())
            if len(voters) >= per_address:
                return REFUSED
            if len(room.answers) >= MAX_ANSWERS:
                return FULL
            voters.add(voter)
            room.answers[voter] = choice
            if typed:
                room.typed[voter] = typed
            return COUNTED

    def mine(self, code: str, voter: str) -> int | None:
        with self._lock:
            room = self._live(code)
            return room.answers.get(voter) if room else None

    def tally(self, code: str) -> Tally | None:
        with self._lock:
            room = self._live(code)
            return _tally(room.question, list(room.answers.values()), list(room.typed.values())) if room else None

    def revealed(self, code: str) -> bool | None:
        with self._lock:
            room = self._live(code)
            return room.revealed if room else None

    def _owned(self, code: str, secret: str) -> _Room | None:
        room = self._live(code)
        return room if room is not None and hmac.compare_digest(room.digest, _digest(secret)) else None

    def reveal(self, code: str, secret: str) -> bool:
        with self._lock:
            room = self._owned(code, secret)
            if room is not None:
                room.revealed = True
            return room is not None

    def close(self, code: str, secret: str) -> bool:
        with self._lock:
            if self._owned(code, secret) is None:
                return False
            del self._rooms[code]
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._rooms)


# One answer, atomically: KEYS question, answers, typed, this address's voters;
# ARGV voter, choice, per_address, ttl, typed, max_answers.
_ANSWER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
if redis.call('HGET', KEYS[1], 'revealed') == '1' then return 'revealed' end
local old = redis.call('HGET', KEYS[2], ARGV[1])
local oldtyped = redis.call('HGET', KEYS[3], ARGV[1]) or ''
if old then
  if old == ARGV[2] and oldtyped == ARGV[5] then return 'unchanged' end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[1])
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[5]); redis.call('EXPIRE', KEYS[3], ARGV[4]) end
  return 'changed'
end
if redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[3]) then return 'refused' end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[6]) then return 'full' end
redis.call('SADD', KEYS[4], ARGV[1]); redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]); redis.call('EXPIRE', KEYS[2], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[5]); redis.call('EXPIRE', KEYS[3], ARGV[4]) end
return 'counted'
"""


class RedisStore(RoomStore):
    """The same rules in Redis: keys `room:{code}:q` (the question, its secret's digest, its
    presenter, revealed), `:a` (voter -> choice), `:t` (voter -> typed), `:addr:<address>` (voters),
    `room:presenter:<id>` (their open codes); all expire with the question."""

    def __init__(self, url: str, ttl: int = TTL_SECONDS) -> None:
        import redis  # only where a Redis store is configured

        self.url, self.ttl = url, int(ttl)
        self._redis = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3, decode_responses=True)
        self._answer = self._redis.register_script(_ANSWER)
        self._errors = (redis.RedisError, OSError)

    def _call(self, what, *args):
        try:
            return what(*args)
        except self._errors as exc:
            raise RoomStoreError("The room's store (Redis) cannot be reached ({error}): ask whoever runs this server.",
                                 error=type(exc).__name__) from None

    @staticmethod
    def _key(code: str, part: str) -> str:
        return f"room:{{{code}}}:{part}"

    def open(self, question: Question, secret: str, presenter: str, most_open: int) -> str:
        def run() -> str:
            mine = f"room:presenter:{hashlib.sha256(presenter.encode()).hexdigest()[:24]}"
            for code in self._redis.smembers(mine):
                if not self._redis.exists(self._key(code, "q")):
                    self._redis.srem(mine, code)
            if self._redis.scard(mine) >= most_open:
                raise _too_many(most_open)
            while True:
                code = new_code()
                if self._redis.hsetnx(self._key(code, "q"), "question", question.to_json()):
                    break
            pipe = self._redis.pipeline()
            pipe.hset(self._key(code, "q"), mapping={"digest": _digest(secret), "presenter": presenter, "revealed": "0"})
            pipe.expire(self._key(code, "q"), self.ttl)
            pipe.sadd(mine, code)
            pipe.expire(mine, self.ttl)
            pipe.execute()
            return code
        return self._call(run)

    def question(self, code: str) -> Question | None:
        raw = self._call(self._redis.hget, self._key(code, "q"), "question")
        return Question.from_json(raw) if raw else None

    def answer(self, code: str, voter: str, choice: int, address: str, per_address: int, typed: str = "") -> str:
        typed = clean_typed(typed) if choice == OTHER else ""
        keys = [self._key(code, "q"), self._key(code, "a"), self._key(code, "t"),
                self._key(code, "addr:" + hashlib.sha256(address.encode()).hexdigest()[:24])]
        return self._call(self._answer, keys, [voter, str(choice), per_address, self.ttl, typed, MAX_ANSWERS])

    def mine(self, code: str, voter: str) -> int | None:
        raw = self._call(self._redis.hget, self._key(code, "a"), voter)
        return int(raw) if raw is not None else None

    def tally(self, code: str) -> Tally | None:
        question = self.question(code)
        if question is None:
            return None
        answers = [int(v) for v in self._call(self._redis.hvals, self._key(code, "a"))]
        typed = self._call(self._redis.hvals, self._key(code, "t"))
        return _tally(question, answers, typed)

    def revealed(self, code: str) -> bool | None:
        raw = self._call(self._redis.hget, self._key(code, "q"), "revealed")
        return None if raw is None else raw == "1"

    def _owns(self, code: str, secret: str) -> bool:
        digest = self._call(self._redis.hget, self._key(code, "q"), "digest")
        return digest is not None and hmac.compare_digest(digest, _digest(secret))

    def reveal(self, code: str, secret: str) -> bool:
        if not self._owns(code, secret):
            return False
        self._call(self._redis.hset, self._key(code, "q"), "revealed", "1")
        return True

    def close(self, code: str, secret: str) -> bool:
        if not self._owns(code, secret):
            return False
        addresses = self._call(lambda: list(self._redis.scan_iter(match=self._key(code, "addr:*"), count=500)))
        self._call(self._redis.delete, *(self._key(code, p) for p in ("q", "a", "t")), *addresses)
        return True


_stores: dict[str, RoomStore] = {}
_stores_lock = threading.Lock()


def room_store() -> RoomStore:
    """The store `DASHBOARD_ROOM_STORE` names (read on each call: tests switch it): a `redis://`
    or `rediss://` URL, or nothing for this server's memory."""
    url = os.environ.get(STORE_ENV, "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise RoomStoreError("{name} must be a redis:// URL or empty.", name=STORE_ENV)
    with _stores_lock:
        if url not in _stores:
            _stores[url] = RedisStore(url) if url else MemoryStore()
        return _stores[url]
