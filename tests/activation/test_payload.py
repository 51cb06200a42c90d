"""What a destination receives: only the fields its plan allows, read through the profile read
path (identifiers revealed, pseudonymized or masked as for any reader), ids as pseudonyms of
the destination's own audience."""

from __future__ import annotations

import json

import pytest

from gateway.activation.destinations import DestinationInput, create_destination
from gateway.activation.service import CLI
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile.identity import read_identity
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, campaign, customer, drain, plan, webhook
from tests.api.support import secrets_of
from tests.harness import Gateway


def test_payload_holds_only_allowed_fields_and_destination_pseudonyms(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as esp, Receiver() as ads, Receiver() as esp2:
        act = activation_for(gw, prefixes=",".join(r.prefix for r in (esp, ads, esp2)))
        webhook(gw, act, esp.url, name="esp", fields=("firstName", "email", "city"))
        webhook(gw, act, esp2.url, name="esp-two", fields=("firstName", "email", "city"))
        webhook(gw, act, ads.url, name="ads", channel="ads_audience", purpose="ads_audience",
                fields=("email", "city"))
        cid = customer(gw)
        gw.consent(cid, "ads_audience")
        with gw.engine.connect() as conn:
            plain = read_identity(conn, gw.services.vault, cid)
        assert plain is not None
        plan(gw, act, campaign(gw, act, "esp", [cid], template="spring_sale"))
        plan(gw, act, campaign(gw, act, "esp-two", [cid], template="spring_sale"))
        plan(gw, act, campaign(gw, act, "ads", [cid], template="ads_match", purpose="ads_audience"))
        drain(gw, act)
        [to_esp], [to_esp2], [to_ads] = (r.messages("message") for r in (esp, esp2, ads))
        # then: the email destination gets the template's fields, the address in the clear
        # (marketing_email reveals it), nothing else of the profile
        assert to_esp["data"] == {"firstName": plain["first_name"], "email": plain["email"]}
        # and: the ad audience gets the address as a keyed pseudonym and the city; no name
        assert set(to_ads["data"]) == {"email", "city"}
        assert to_ads["data"]["email"].startswith("email_")
        raw = json.dumps(to_ads)
        assert all(secret not in raw for secret in secrets_of({
            "first_name": plain["first_name"], "last_name": plain["last_name"],
            "email": plain["email"], "phone": plain["phone"], "street": plain["street"]}))
        # and: each destination gets its own id for the customer, none an app's id
        ids = {to_esp["recipient"], to_esp2["recipient"], to_ads["recipient"]}
        assert len(ids) == 3
        assert gw.pseudonym(cid) not in ids
        # and: only the gateway turns a destination's id back, with that destination's key
        from gateway.activation.destinations import get_destination

        with gw.engine.connect() as conn:
            esp_names = get_destination(conn, name="esp").pseudonyms(act)
            two_names = get_destination(conn, name="esp-two").pseudonyms(act)
        assert esp_names.resolve_customer(to_esp["recipient"]) == cid
        from gateway.privacy.pseudonyms import InvalidPseudonym

        with pytest.raises(InvalidPseudonym):
            two_names.resolve_customer(to_esp["recipient"])


def test_a_field_the_policy_denies_cannot_be_configured(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    base = {"name": "esp", "kind": "webhook", "channel": "email", "purpose": "marketing_email",
            "url": "http://127.0.0.1:9/hook"}
    # when: an unknown field; an ads audience asking for the first name (identity: the
    # policy does not allow it for ads_audience); an email destination without the address
    cases = [
        ({**base, "fields": ("firstName", "email", "totalSpent", "birthDate", "nope")}, Code.INVALID_INPUT),
        ({**base, "name": "ads", "channel": "ads_audience", "purpose": "ads_audience",
          "fields": ("email", "firstName")}, Code.POLICY_DENIED),
        ({**base, "fields": ("firstName",)}, Code.INVALID_INPUT),  # an email channel without email
    ]
    for given, code in cases:
        with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
            create_destination(conn, act, CLI, DestinationInput(**given))  # type: ignore[arg-type]
        assert caught.value.code == code and caught.value.field == "fields"
    # control: the allowed set is accepted
    with gw.engine.begin() as conn:
        create_destination(conn, act, CLI, DestinationInput(**{**base, "fields": ("firstName", "email")}))  # type: ignore[arg-type]
