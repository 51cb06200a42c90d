"""Delivery: retries with backoff, exactly once in effect, dead letters, signatures, file drops,
and a worker killed mid-batch that loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from gateway.activation.clock import ManualClock
from gateway.activation.destinations import DestinationInput, create_destination
from gateway.activation.secrets import verify
from gateway.activation.service import CLI
from gateway.activation.tables import activation_messages
from tests.activation.receiver import Receiver
from tests.activation.support import (
    SECRET,
    activation_for,
    campaign,
    count,
    customer,
    drain,
    plan,
    statuses,
    webhook,
)
from tests.harness import MASTER_KEY, REPO, Gateway


def test_a_receiver_that_fails_then_recovers_gets_each_message_once(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp", batch_size=2)
        people = [customer(gw) for _ in range(5)]
        ref = campaign(gw, act, "esp", people)
        result = plan(gw, act, ref)
        # given: the receiver is down for its next 4 requests
        receiver.fail_next = 4
        # when: the worker runs, time passes beyond the backoff, it runs again (and again)
        for _ in range(6):
            drain(gw, act)
            clock.advance(minutes=10)
        # then: every message arrived, each id once in effect, and all are `sent`
        assert len(receiver.messages("message")) == 5
        assert {s for s, _ in statuses(gw, campaign_id=result.campaign.id).values()} == {"sent"}
        failed = [r for r in receiver.got.requests if r["status"] != 200]
        assert len(failed) == 4


def test_retries_wait_for_their_backoff(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        plan(gw, act, campaign(gw, act, "esp", [customer(gw)]))
        receiver.fail_next = 1
        drain(gw, act)
        # when: the worker runs again at once
        drain(gw, act)
        # then: no second try before the backoff (base 1 s, jitter 0.8-1.2)
        assert len(receiver.got.requests) == 1
        clock.advance(seconds=2)
        drain(gw, act)
        assert len(receiver.got.requests) == 2 and len(receiver.messages()) == 1


def test_dead_letter_after_max_attempts_and_requeue(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp", max_attempts=3)
        result = plan(gw, act, campaign(gw, act, "esp", [customer(gw)]))
        receiver.fail_next = 100
        for _ in range(5):
            drain(gw, act)
            clock.advance(hours=1)
        # then: three tries, then dead, with the error kept (a status, never a body)
        assert len(receiver.got.requests) == 3
        assert count(gw, campaign_id=result.campaign.id, status="dead", last_error="http 503") == 1
        # when: the destination is fixed and the dead letters are requeued
        receiver.fail_next = 0
        from gateway.activation.outbox import requeue_dead

        with gw.engine.begin() as conn:
            assert requeue_dead(conn, None, clock.now()) == 1
        drain(gw, act)
        assert count(gw, campaign_id=result.campaign.id, status="sent") == 1


def test_a_client_error_goes_straight_to_the_dead_letters(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        result = plan(gw, act, campaign(gw, act, "esp", [customer(gw)]))
        receiver.fail_next, receiver.fail_status = 1, 401
        drain(gw, act)
        assert count(gw, campaign_id=result.campaign.id, status="dead", last_error="http 401") == 1


def test_batches_are_signed_and_carry_an_idempotency_key(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        plan(gw, act, campaign(gw, act, "esp", [customer(gw)]))
        drain(gw, act)
        request = receiver.got.requests[0]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        now = int(time.time())
        # then: the signature verifies with the destination's secret, and only with it
        assert verify(SECRET, headers["x-gateway-signature"], request["raw"], 300, now)
        assert not verify("another secret", headers["x-gateway-signature"], request["raw"], 300, now)
        assert not verify(SECRET, headers["x-gateway-signature"], request["raw"] + b" ", 300, now)
        assert headers["idempotency-key"] == request["body"]["batch"]


def test_file_drop_writes_whole_files_named_by_batch(fresh_gateway: Gateway, tmp_path: Path) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="", drop_dir=tmp_path)
    with gw.engine.begin() as conn:
        create_destination(conn, act, CLI, DestinationInput(
            name="sftp-drop", kind="file", channel="email", purpose="marketing_email",
            fields=("firstName", "email"), path="esp", file_format="jsonl"))
    people = [customer(gw) for _ in range(3)]
    plan(gw, act, campaign(gw, act, "sftp-drop", people))
    drain(gw, act)
    files = sorted((tmp_path / "esp").iterdir())
    # then: one complete file, no temporary file left, one line per message
    assert [f.suffix for f in files] == [".jsonl"]
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(lines) == 3 and {m["type"] for m in lines} == {"message"}
    assert {tuple(sorted(m["data"])) for m in lines} == {("email", "firstName")}


def test_a_worker_killed_mid_batch_loses_nothing(fresh_gateway: Gateway, tmp_path: Path) -> None:
    gw = fresh_gateway
    # The receiver answers the first batch and holds every later request until released, so
    # the kill lands while a batch is on the wire whatever the machine's load (no sleeps).
    with Receiver(hold_after=1) as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp", batch_size=3)
        people = [customer(gw) for _ in range(12)]
        result = plan(gw, act, campaign(gw, act, "esp", people))
        env = {**os.environ, "GATEWAY_DATABASE_URL": gw.url, "GATEWAY_MASTER_KEY": MASTER_KEY,
               "GATEWAY_MASTER_KEY_FILE": str(tmp_path / "master.key"),
               "GATEWAY_POLICY_DIR": str(REPO / "policies"),
               "GATEWAY_ACTIVATION_ALLOWED_URLS": receiver.prefix,
               "GATEWAY_ACTIVATION_PRIVATE_NETWORKS": "127.0.0.0/8",
               "GATEWAY_ACTIVATION_LEASE_SECONDS": "2", "GATEWAY_ACTIVATION_POLL_SECONDS": "0.1"}
        command = [sys.executable, "-m", "gateway.cli", "activation", "work"]
        # given: a worker that is killed (SIGKILL) while its second batch is on the wire
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 120
            while receiver.holding < 1 and time.monotonic() < deadline and first.poll() is None:
                time.sleep(0.02)
            assert receiver.holding == 1, "the worker never posted its second batch"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert len(receiver.messages()) == 3  # it really died part-way: one batch answered
        assert count(gw, campaign_id=result.campaign.id, status="sending") == 3
        receiver.release()  # the held batch arrives too, as if the answer was lost on the way
        # when: a new worker starts once the dead worker's lease has run out
        _wait_for_leases(gw, result.campaign.id)
        second = subprocess.run([*command, "--once"], env=env, capture_output=True, cwd=tmp_path,
                                timeout=300, check=False)
        assert second.returncode == 0, second.stderr.decode()[-2000:]
        # then: every message arrived once in effect, none is left behind
        assert len(receiver.messages("message")) == 12
        assert {s for s, _ in statuses(gw, campaign_id=result.campaign.id).values()} == {"sent"}


def _wait_for_leases(gw: Gateway, campaign_id: int) -> None:
    """Sleep until the leases of the campaign's `sending` messages are in the past."""
    m = activation_messages.c
    with gw.engine.connect() as conn:
        until = conn.execute(select(func.max(m.lease_until)).where(
            m.campaign_id == campaign_id, m.status == "sending")).scalar_one()
    if until is not None:
        time.sleep(max((until - datetime.now(UTC)).total_seconds(), 0) + 0.2)
