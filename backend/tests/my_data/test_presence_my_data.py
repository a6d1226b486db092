"""A customer's own data reaches only a message from where the conversation was verified (identity.routes.presence):
naming a verified conversation's id from another channel or connection gets `403 not_verified`."""
from __future__ import annotations

import pytest

from ..identity.test_presence import ELSEWHERE
from .conftest import SERVICE, bind, new_conversation


@pytest.mark.parametrize("where", list(ELSEWHERE))
def test_my_data_and_export_links_only_where_verified(client, clock, company, where):
    conversation = new_conversation()
    bind(client, clock, conversation, "C0002")
    own = client.get(f"/api/conversations/{conversation}/my-data", params={"language": "en"}, headers=SERVICE)
    assert own.status_code == 200 and own.json()["customer_id"] == "C0002"
    email = company.email_of("C0002")
    for method, path in (("GET", f"/api/conversations/{conversation}/my-data"), ("POST", f"/api/conversations/{conversation}/exports")):
        response = client.request(method, path, headers=ELSEWHERE[where])
        assert response.status_code == 403 and response.json()["reason"] == "not_verified", (method, path)
        assert "C0002" not in response.text and email not in response.text
