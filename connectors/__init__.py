"""Rasa input channels of the assistant (registered by class path in bot/credentials.yml).

- `connectors.website.WebsiteInput`: the website's chat widget over socket.io, with server-issued
  session ids and the website login checked by the back office.
- `connectors.rest.TokenRestInput`: Rasa's REST channel behind a bearer token, for the tests and
  the evaluation; off unless REST_CHANNEL_TOKEN is set.
- `connectors.limits`: what every channel lets through (message length, request and metadata size,
  sender id shape), and the "too long" answer.
- `connectors.sentences`: every sentence the channels say themselves, in Dutch and English.
"""
