"""A dispatcher's lease must cover one attempt's timeouts, or it refuses to start."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest

from service.webhooks.delivery import DEFAULT_TIMEOUT, attempt_budget
from service.webhooks.dispatcher import DispatcherConfig


def test_attempt_budget_is_connect_write_and_read_without_pool():
    timeout = httpx.Timeout(connect=1.0, write=2.0, read=4.0, pool=8.0)
    assert attempt_budget(timeout) == timedelta(seconds=7)


def test_default_lease_is_several_attempt_budgets():
    config = DispatcherConfig()
    assert config.budget == attempt_budget(DEFAULT_TIMEOUT) == timedelta(seconds=25)
    assert config.lease >= 4 * config.budget


def test_lease_shorter_than_one_attempt_is_refused_with_the_figures():
    timeout = httpx.Timeout(2.0, read=0.4)
    with pytest.raises(
        ValueError,
        match=r"lease of 3 s is shorter than one attempt's budget of 4.4 s "
        r"\(connect 2 \+ write 2 \+ read 0.4 s\)",
    ):
        DispatcherConfig(timeout=timeout, lease=timedelta(seconds=3))


def test_lease_of_exactly_one_budget_is_accepted():
    config = DispatcherConfig(timeout=httpx.Timeout(1.0), lease=timedelta(seconds=3))
    assert config.lease == config.budget


def test_replacing_fields_checks_the_lease_again():
    with pytest.raises(ValueError, match="shorter than one attempt's budget"):
        dataclasses.replace(DispatcherConfig(), lease=timedelta(seconds=10))


@pytest.mark.parametrize("phase", ["connect", "write", "read"])
def test_unbounded_timeout_phase_is_refused(phase):
    timeout = httpx.Timeout(**{"connect": 1.0, "write": 1.0, "read": 1.0, "pool": 1.0, phase: None})
    with pytest.raises(ValueError, match=f"{phase} is not"):
        DispatcherConfig(timeout=timeout)
