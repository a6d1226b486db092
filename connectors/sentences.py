"""Every sentence the chat channels say to a customer themselves, in Dutch and in English.

The channels run in the Rasa server and answer before a message reaches the assistant: a message too
long to read, a website login that could not be confirmed. Each entry is keyed by language;
`{name}` marks a value the code fills in. The assistant's own sentences are in actions/sentences.py
(the action server's) and in the responses of bot/domain.yml.
"""
from __future__ import annotations

LANGUAGES = ("nl", "en")

# The answer to a message over MAX_MESSAGE_CHARS (connectors/limits.py), instead of reading it.
TOO_LONG: dict[str, str] = {
    "nl": "Je bericht is te lang voor mij: maximaal {limit} tekens. Maak het korter en stuur het opnieuw.",
    "en": "Your message is too long for me: at most {limit} characters. Please shorten it and send it again.",
}

# What the website channel tells a customer whose login could not be used (connectors/website.py).
NOTICES: dict[str, dict[str, str]] = {
    "expired": {
        "nl": "Ik kon je inlog niet bevestigen: die is verlopen. Log opnieuw in op de website, "
              "of ik kan je verifiëren met een code per e-mail.",
        "en": "I could not confirm your login: it has expired. Log in again on the website, "
              "or I can verify you with a code by e-mail.",
    },
    "invalid": {
        "nl": "Ik kon je inlog niet bevestigen: de inlog van de website is niet geldig. Log opnieuw in "
              "op de website, of ik kan je verifiëren met een code per e-mail.",
        "en": "I could not confirm your login: the website's login is not valid. Log in again on the "
              "website, or I can verify you with a code by e-mail.",
    },
    "unavailable": {
        "nl": "Ik kon je inlog nu niet bevestigen: onze verificatiedienst is niet bereikbaar. Je kunt "
              "gewoon verder chatten, maar je eigen gegevens kan ik pas laten zien als je geverifieerd "
              "bent. Probeer het over een paar minuten opnieuw, of ik kan je verifiëren met een code per e-mail.",
        "en": "I could not confirm your login right now: our verification service cannot be reached. "
              "You can keep chatting, but I cannot show your own data until you are verified. Try "
              "again in a few minutes, or I can verify you with a code by e-mail.",
    },
    "new_conversation": {
        "nl": "Je bent ingelogd als een andere klant dan bij wie dit gesprek hoort, dus ik ben een "
              "nieuw gesprek voor je begonnen.",
        "en": "You are logged in as a different customer than the one this conversation belongs to, "
              "so I have started a new conversation for you.",
    },
}

# What the Telegram channel says itself (connectors/telegram.py): in a group chat it answers every
# message with the pointer to a private chat ({link}: the bot's t.me address, or words saying where),
# and to a photo, sticker or voice note it says it reads text only.
TELEGRAM_NOTICES: dict[str, dict[str, str]] = {
    "group_chat": {
        "nl": "In een groepsgesprek bespreek ik geen persoonlijke gegevens. Voor vragen over je eigen gegevens "
              "chat je privé met mij: {link}",
        "en": "In a group chat I do not discuss anyone's personal data. For questions about your own data, "
              "chat with me privately: {link}",
    },
    "private_chat_link": {
        "nl": "open een privégesprek met mij in Telegram.",
        "en": "open a private chat with me in Telegram.",
    },
    "text_only": {
        "nl": "Ik kan alleen tekstberichten lezen. Typ je vraag, dan help ik je verder.",
        "en": "I can only read text messages. Please type your question and I will help you.",
    },
}

# The WhatsApp channel (connectors/whatsapp.py): the label of the button that opens a list of choices
# (at most 20 characters; both languages when the customer's is not known), and its answer to a photo,
# voice note or other message that is not text.
WHATSAPP_CHOOSE: dict[str, str] = {"nl": "Kies", "en": "Choose", "": "Kies / Choose"}
WHATSAPP_TEXT_ONLY = ("Ik kan alleen tekstberichten lezen. Typ je vraag, dan help ik je verder.\n\n"
                      "I can only read text messages. Please type your question and I will help you.")

# What the Teams channel says itself (connectors/teams.py): in a group chat or a team's channel it
# answers with the pointer to a personal chat; to a message without text, that it reads text only.
TEAMS_NOTICES: dict[str, dict[str, str]] = {
    "group_chat": {
        "nl": "In een groepsgesprek of kanaal bespreek ik geen persoonlijke gegevens. Voor vragen over je eigen "
              "gegevens chat je privé met mij: open de app in Teams en kies Chat.",
        "en": "In a group chat or channel I do not discuss anyone's personal data. For questions about your own data, "
              "chat with me privately: open the app in Teams and choose Chat.",
    },
    "text_only": TELEGRAM_NOTICES["text_only"],
}
