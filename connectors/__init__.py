"""Rasa input channels of the assistant (registered by class path in bot/credentials.yml).

- `connectors.website.WebsiteInput`: the website's chat widget over socket.io, with server-issued
  session ids and the website login checked by the back office.
- `connectors.rest.TokenRestInput`: Rasa's REST channel behind a bearer token, for the tests and
  the evaluation; off unless REST_CHANNEL_TOKEN is set.
- `connectors.telegram.TelegramInput`: Telegram's webhook behind its secret token, private chats only;
  off unless TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN are set.
- `connectors.teams.TeamsInput`: Microsoft Teams for a single-tenant Azure bot (token issuer, audience
  and tenant checked); off unless TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID are set.
- `connectors.whatsapp.WhatsAppInput`: Meta's WhatsApp Business Cloud API webhook, signed posts only;
  off unless WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN and
  WHATSAPP_PHONE_NUMBER_ID are set.
- `connectors.delivery`: how WhatsApp, Telegram and Teams send (in order per recipient, in the
  background, repeated only where a repeat is harmless) and take each incoming id once.
- `connectors.limits`: what every channel lets through (message length, request and metadata size,
  sender id shape), and the "too long" answer.
- what the channels say themselves is in the text catalogue (text-catalogue/texts/<language>.yml, section `channels`).
"""
