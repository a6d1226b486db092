"""Rasa input channels of the assistant (registered by class path in bot/credentials.yml).

- `connectors.website.WebsiteInput`: the website's chat widget over socket.io, with server-issued
  session ids and the website login checked by the back office.
"""
