"""Destinations and campaigns refuse bad input with a clear code and write nothing;
webhook URLs cannot be turned against private networks or the gateway itself."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.activation.campaigns import Arm, CampaignInput, create_campaign
from gateway.activation.destinations import DestinationInput, create_destination, get_destination
from gateway.activation.service import CLI
from gateway.activation.tables import activation_campaigns, activation_destinations
from gateway.activation.urlguard import UrlGuard
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from tests.activation.support import SECRET, activation_for, customer, webhook
from tests.harness import Gateway


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, _port: int) -> list[str]:
        if host not in table:
            raise OSError("does not resolve")
        return table[host]
    return resolve


# The allow-list names the gateway's own address on purpose: it must be refused all the same,
# like a private address, even where the operator allowed the private networks.
GUARD = UrlGuard.from_settings(
    "https://hooks.esp.example/,https://internal.example/,http://127.0.0.1:8000/,"
    "http://[::1]:8000/,https://rebind.example/",
    "127.0.0.0/8,::1/128", "http://127.0.0.1:8000",
    resolve=_resolver({"hooks.esp.example": ["93.184.216.34"], "internal.example": ["10.1.2.3"],
                       "127.0.0.1": ["127.0.0.1"], "::1": ["::1"], "rebind.example": ["93.184.216.34", "169.254.169.254"]}),
)


@pytest.mark.parametrize("url", [
    "https://elsewhere.example/hook",  # not on the allow-list
    "https://hooks.esp.example.evil.example/hook",  # a prefix trick on the host
    "https://hooks.esp.example@10.0.0.1/hook",  # credentials / host confusion
    "ftp://hooks.esp.example/hook",  # not http(s)
    "https://internal.example/hook",  # allowed prefix, private address
    "https://rebind.example/hook",  # one of the addresses is link-local (metadata service)
    "http://127.0.0.1:8000/graphql",  # the gateway itself
    "http://[::1]:8000/graphql",  # the gateway itself, by another name
])
def test_request_forgery_is_refused(url: str) -> None:
    with pytest.raises(ServiceError) as caught:
        GUARD.check(url)
    assert caught.value.code == Code.DESTINATION_NOT_ALLOWED


def test_an_allowed_public_destination_passes() -> None:
    GUARD.check("https://hooks.esp.example/hook/v1")  # control: no exception


def test_private_networks_pass_only_when_named_and_never_the_gateway() -> None:
    guard = UrlGuard.from_settings("http://127.0.0.1:9100/,http://127.0.0.1:8000/", "127.0.0.0/8",
                                   "http://0.0.0.0:8000", resolve=_resolver({"127.0.0.1": ["127.0.0.1"]}))
    guard.check("http://127.0.0.1:9100/hook")
    with pytest.raises(ServiceError):
        guard.check("http://127.0.0.1:8000/hook")


def test_the_signing_secret_is_sealed_at_rest(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/hook", name="esp")
    with gw.engine.connect() as conn:
        stored = conn.execute(select(activation_destinations.c.secret)).scalar_one()
        found = get_destination(conn, name="esp")
    assert SECRET.encode() not in stored
    assert found.signing_secret(act) == SECRET


def _campaigns(gw: Gateway) -> int:
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(activation_campaigns)).scalar_one())


def test_bad_campaigns_get_a_code_and_plan_nothing(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/hook", name="esp", fields=("firstName", "email"))
    cid = customer(gw)
    base = CampaignInput(name="c", destination="esp", purpose="marketing_email",
                         template="newsletter", customer_ids=(cid,))
    cases = [
        ({"destination": "nowhere"}, Code.NOT_FOUND, "destination"),
        ({"purpose": "marketing_sms"}, Code.INVALID_INPUT, "purpose"),
        ({"purpose": "nonsense"}, Code.PURPOSE_UNKNOWN, "purpose"),
        ({"template": "spring_sale_city"}, Code.INVALID_INPUT, "template"),  # needs city
        ({"template": "no_such_template"}, Code.INVALID_INPUT, "template"),
        ({"customer_ids": (cid, 10**9)}, Code.NOT_FOUND, "customerIds"),
        ({"customer_ids": None, "segment_id": "42"}, Code.NOT_FOUND, "segmentId"),
        ({"holdout": 0.9}, Code.INVALID_INPUT, "holdout"),
        ({"arms": (Arm("A", 1, "newsletter"), Arm("A", 1, "newsletter"))}, Code.INVALID_INPUT, "arms"),
        ({"arms": (Arm("A", 1, "newsletter"), Arm("B", 1, "spring_sale_city"))}, Code.INVALID_INPUT,
         "arms[1].template"),
    ]
    for change, code, field in cases:
        given = CampaignInput(**{**base.__dict__, **change})
        with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
            create_campaign(conn, act, CLI, given)
        assert (caught.value.code, caught.value.field) == (code, field), change
    assert _campaigns(gw) == 0
    # control: the good one is stored
    with gw.engine.begin() as conn:
        create_campaign(conn, act, CLI, base)
    assert _campaigns(gw) == 1


def test_destination_input_is_checked(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    base = DestinationInput(name="esp", kind="webhook", channel="email", purpose="marketing_email",
                            fields=("email",), url="http://127.0.0.1:9/hook")
    cases = [
        ({"name": "Bad Name!"}, "name"), ({"kind": "carrier_pigeon"}, "kind"),
        ({"channel": "sms"}, "channel"), ({"url": "http://127.0.0.1:10/hook"}, "url"),
        ({"kind": "file", "url": None, "path": "../../etc"}, "path"), ({"role": "nobody"}, "role"),
        ({"batch_size": 0}, "batchSize"),
    ]
    for change, field in cases:
        with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
            create_destination(conn, act, CLI, DestinationInput(**{**base.__dict__, **change}))
        assert caught.value.field == field, change
    with gw.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(activation_destinations)).scalar_one() == 0
