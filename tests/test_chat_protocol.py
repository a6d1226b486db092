"""The two sides of the HTTP line agree on chatprotocol's ids: every channel the Rasa server loads is
one the back office knows by that name, the intent the back office takes for "stop waiting" is one
the assistant has, and the real back office takes every handoff reason and every channel's presence
the actions can send it (a reason or channel it refused would be a 422 or a 400)."""
from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import pytest
import yaml

import texts
from actions.backoffice import BackOfficeClient, Refused
from chatprotocol import CANCEL_HANDOFF_INTENT, CONNECTION_CHANNELS, Channel, HandoffReason, Presence

ROOT = Path(__file__).resolve().parents[1]


# The input channels that take no messages: the Rasa server's readiness (connectors/health.py).
NOT_CHAT_CHANNELS = {"connectors.health.HealthInput"}


def loaded_channels() -> dict[str, str]:
    """Each chat channel of bot/credentials.yml, by class path, and the name Rasa knows it by."""
    names = {}
    for path in set(yaml.safe_load((ROOT / "bot" / "credentials.yml").read_text())) - NOT_CHAT_CHANNELS:
        module, _, cls = path.rpartition(".")
        names[path] = getattr(importlib.import_module(module), cls).name()
    return names


def test_every_channel_rasa_loads_is_one_of_chatprotocols_and_each_of_those_is_loaded():
    # Rasa stamps each message with its channel's name, and the back office names it back as Rasa's
    # `output_channel` for an agent's reply: a name not in Channel would push nothing, or be refused.
    names = loaded_channels()
    assert set(names.values()) == {c.value for c in Channel}, names
    assert len(set(names.values())) == len(names), f"two channels share a name: {names}"


def test_the_intent_that_stops_waiting_is_the_assistants():
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text())
    assert CANCEL_HANDOFF_INTENT in domain["intents"]


def test_the_console_words_every_handoff_reason_in_every_language():
    """A reason added to chatprotocol needs its words in each file of the text catalogue, or the agents'
    queue would show the raw id."""
    for language, catalogue in texts.catalogue().items():
        assert {r.value for r in HandoffReason} <= set(catalogue["console"]["script"]["reasons"]), language


@pytest.fixture
def backoffice(backoffice_url, stack) -> BackOfficeClient:
    return BackOfficeClient(backoffice_url, stack.env["BACKOFFICE_SERVICE_TOKEN"])


@pytest.mark.parametrize("reason", list(HandoffReason), ids=lambda r: r.value)
def test_the_back_office_takes_every_reason_the_actions_may_give(backoffice: BackOfficeClient, reason: HandoffReason):
    # A ticket is left only by a customer verified here: an unverified conversation's ticket is refused
    # for that (403), after the body, reason and all, was taken (a reason it does not know: 422).
    with pytest.raises(Refused) as refused:
        backoffice.record_ticket(f"protocol-{uuid.uuid4().hex[:12]}", reason, "en", Presence(Channel.REST.value))
    assert (refused.value.status, refused.value.reason) == (403, "not_verified"), refused.value.body


class Unknown:
    """A reason chatprotocol does not have, in the shape the actions' client sends one."""

    value = "bored"


def test_a_reason_the_back_office_does_not_know_is_refused(backoffice: BackOfficeClient):
    """The probe above tells the two apart: a reason outside HandoffReason is refused as such."""
    with pytest.raises(Refused) as refused:
        backoffice.record_ticket(f"protocol-{uuid.uuid4().hex[:12]}", Unknown(), "en", Presence(Channel.REST.value))  # type: ignore[arg-type]
    assert refused.value.status == 422, refused.value.body


@pytest.mark.parametrize("channel", list(Channel), ids=lambda c: c.value)
def test_the_back_office_takes_every_channels_presence(backoffice: BackOfficeClient, channel: Channel):
    # the headers' names and the channel's shape as the back office checks them (out of shape: 400)
    presence = Presence(channel.value, "5c" * 16 if channel.value in CONNECTION_CHANNELS else "", "c5" * 8)
    assert presence.known
    found = backoffice.identity(f"protocol-{uuid.uuid4().hex[:12]}", presence)
    assert found["verified"] is False
