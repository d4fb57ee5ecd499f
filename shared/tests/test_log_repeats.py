"""The Kafka client's retries while the broker is down (a hundred lines a second) are held
back to one line of a kind a period, saying how many were held; the first line of a kind
always shows, and our own lines are never held back."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from wastex_shared.log_repeats import (
    RepeatFilter,
    hold_back_kafka_client_repeats,
    kafka_client_loggers,
)
from wastex_shared.runtime import configure_logging

UNREACHABLE = "Unable connect to node with id %s: %s"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, logger: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(logger, logging.ERROR, __file__, 1, msg, args, None)


def test_the_first_of_a_kind_passes_and_its_repeats_are_held_for_the_period() -> None:
    clock = Clock()
    repeats = RepeatFilter(period=30, clock=clock)
    assert repeats.filter(record(UNREACHABLE, 0, "refused"))
    clock.now += 29.9
    assert not repeats.filter(record(UNREACHABLE, 0, "refused"))


def test_another_broker_failing_is_another_kind() -> None:
    """Of three brokers one going down after another must not be hidden behind the first's
    line: the kind is the line as written, its node included."""
    repeats = RepeatFilter(period=30, clock=Clock())
    assert repeats.filter(record(UNREACHABLE, 0, "refused"))
    assert repeats.filter(record(UNREACHABLE, 1, "refused"))
    assert not repeats.filter(record(UNREACHABLE, 1, "refused"))


def test_one_a_period_passes_saying_how_many_were_held_back() -> None:
    clock = Clock()
    repeats = RepeatFilter(period=30, clock=clock)
    repeats.filter(record(UNREACHABLE, 0, "100% refused"))
    for _ in range(299):
        clock.now += 0.1
        assert not repeats.filter(record(UNREACHABLE, 0, "100% refused"))
    clock.now += 0.1
    shown = record(UNREACHABLE, 0, "100% refused")
    assert repeats.filter(shown)
    assert shown.getMessage() == (
        "Unable connect to node with id 0: 100% refused [299 more like this held back over 30 s]"
    )
    clock.now += 1
    assert not repeats.filter(record(UNREACHABLE, 0, "100% refused"))  # the count starts again


def test_a_line_after_a_quiet_period_passes_as_it_was() -> None:
    clock = Clock()
    repeats = RepeatFilter(period=30, clock=clock)
    repeats.filter(record(UNREACHABLE, 0, "refused"))
    clock.now += 3600
    again = record(UNREACHABLE, 0, "refused")
    assert repeats.filter(again)
    assert again.getMessage() == "Unable connect to node with id 0: refused"


def test_kinds_are_told_apart_by_line_and_logger() -> None:
    repeats = RepeatFilter(period=30, clock=Clock())
    assert repeats.filter(record(UNREACHABLE, 0, "refused"))
    assert repeats.filter(record("Unable to update metadata from %s", 0))
    assert repeats.filter(record(UNREACHABLE, 0, "refused", logger="aiokafka.conn"))
    assert not repeats.filter(record("Unable to update metadata from %s", 0))


def test_a_kind_forgotten_passes_again_as_a_first() -> None:
    """The kinds remembered are bounded (a message built per call is a kind per line); a
    forgotten kind's next line is shown: forgetting never hides a first line."""
    repeats = RepeatFilter(period=30, clock=Clock(), max_kinds=2)
    for msg in ("a", "b", "c"):
        assert repeats.filter(record(msg))
    assert not repeats.filter(record("c"))
    assert repeats.filter(record("a"))


@pytest.fixture
def restored_kafka_loggers() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in kafka_client_loggers()]
    before = {logger.name: list(logger.filters) for logger in loggers}
    yield
    for logger in loggers:
        logger.filters[:] = before[logger.name]


@pytest.mark.usefixtures("restored_kafka_loggers")
def test_a_services_logging_holds_back_the_kafka_clients_repeats_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging(clock=Clock())
    with caplog.at_level(logging.INFO):
        for name in ("aiokafka", "aiokafka.conn", "aiokafka.consumer.fetcher"):
            for _ in range(50):
                logging.getLogger(name).error(UNREACHABLE, 0, "refused")
        for _ in range(3):
            logging.getLogger("wastex_shared.messaging.live").error("live feed failed")
    seen = [(r.name, r.getMessage()) for r in caplog.records]
    assert seen == [
        ("aiokafka", "Unable connect to node with id 0: refused"),
        ("aiokafka.conn", "Unable connect to node with id 0: refused"),
        ("aiokafka.consumer.fetcher", "Unable connect to node with id 0: refused"),
        *[("wastex_shared.messaging.live", "live feed failed")] * 3,
    ]


@pytest.mark.usefixtures("restored_kafka_loggers")
def test_every_kafka_client_logger_is_covered_once() -> None:
    """Filters are the logger's own (a parent's do not see its children's records): each
    of aiokafka's modules gets it, and setting up twice leaves one."""
    names = kafka_client_loggers()
    assert {"aiokafka", "aiokafka.conn", "aiokafka.producer.sender"} <= set(names)
    assert "aiokafka.consumer.group_coordinator" in names
    hold_back_kafka_client_repeats(RepeatFilter())
    hold_back_kafka_client_repeats(RepeatFilter())
    for name in names:
        installed = [f for f in logging.getLogger(name).filters if isinstance(f, RepeatFilter)]
        assert len(installed) == 1, name
