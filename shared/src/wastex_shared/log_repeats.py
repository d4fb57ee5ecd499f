"""Repeated log lines held back: the Kafka client's retries while the broker is down.

While the broker is away aiokafka logs each of its retries (every 100 ms, from every
consumer, producer and the live feed's reader): 120–200 ERROR lines a second per service,
half a million an hour, burying the lines an operator needs. `RepeatFilter` lets the first
line of a kind (its logger and the line as written: one broker's retries repeat it word for
word, another broker's name their own node) through, then at most one a `period`,
which says how many like it were held back since the last one let through. Only the
Kafka client's loggers get it (`hold_back_kafka_client_repeats`): our own lines are never
held back.
"""

from __future__ import annotations

import logging
import pkgutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds between two lines of one kind let through.
PERIOD_SECONDS = 30.0
#: Kinds remembered, the least recently seen forgotten first (its next line then passes as
#: a first): a retry's line is the same each time, a few dozen kinds a broker, but a line
#: naming what changes each call (an offset) would otherwise make one kind per line.
MAX_KINDS = 1000


@dataclass
class _Kind:
    shown_at: float
    held: int = 0


class RepeatFilter(logging.Filter):
    """Lets through the first record of a kind, then one a `period` (seconds on `clock`);
    the one let through after others were held says how many and over how long."""

    def __init__(
        self,
        period: float = PERIOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = MAX_KINDS,
    ) -> None:
        super().__init__()
        self._period = period
        self._clock = clock
        self._max_kinds = max_kinds
        self._kinds: OrderedDict[tuple[str, str], _Kind] = OrderedDict()
        self._lock = threading.Lock()  # a client may log from a thread of its own

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        key = (record.name, record.getMessage())
        with self._lock:
            kind = self._kinds.get(key)
            if kind is None:
                self._remember(key, _Kind(now))
                return True
            self._kinds.move_to_end(key)
            if now - kind.shown_at < self._period:
                kind.held += 1
                return False
            if kind.held:
                _note_held(record, kind.held, now - kind.shown_at)
            kind.shown_at, kind.held = now, 0
            return True

    def _remember(self, key: tuple[str, str], kind: _Kind) -> None:
        self._kinds[key] = kind
        if len(self._kinds) > self._max_kinds:
            self._kinds.popitem(last=False)


def _note_held(record: logging.LogRecord, held: int, seconds: float) -> None:
    # Formatted here (args folded into msg) so the note never meets a '%' of the message.
    record.msg = f"{record.getMessage()} [{held} more like this held back over {seconds:.0f} s]"
    record.args = ()


def kafka_client_loggers() -> list[str]:
    """The names of aiokafka's loggers: one a module (`__name__`), the client's "aiokafka".
    A logger's filters see only the records logged to it, not its children's."""
    import aiokafka

    modules = pkgutil.walk_packages(aiokafka.__path__, "aiokafka.", onerror=lambda _: None)
    return ["aiokafka", *sorted(module.name for module in modules)]


def hold_back_kafka_client_repeats(repeats: RepeatFilter) -> None:
    """Install `repeats` on every aiokafka logger (also those of modules not imported yet:
    `getLogger` hands their import the same logger), in place of one installed before."""
    for name in kafka_client_loggers():
        logger = logging.getLogger(name)
        for installed in [f for f in logger.filters if isinstance(f, RepeatFilter)]:
            logger.removeFilter(installed)
        logger.addFilter(repeats)
