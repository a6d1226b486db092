"""Every sentence the back office writes for a customer, in Dutch and English side by side, so that a
translator finds them in one place: the e-mails of identity verification, the words of the answer to
"what do you hold about me" and its download, and what a download link that no longer works says.
(The knowledge base holds the register's own texts; the assistant's chat sentences are in
`actions/sentences.py`.)"""
from __future__ import annotations

# --- the e-mail with a one-time code (the customer's language first, then the other) ---

CODE_EMAIL_SUBJECT = "Je verificatiecode voor Voltera / Your Voltera verification code"

CODE_EMAIL = {
    "nl": (
        "Hallo,\n\n"
        "Je verificatiecode voor de privacy-assistent van Voltera is:\n\n"
        "    {code}\n\n"
        "Typ deze code in de chat om te bevestigen dat dit e-mailadres van jou is. "
        "De code is {minutes} minuten geldig (tot {until}) en werkt maar één keer.\n\n"
        "Wij vragen nooit om een kopie van je identiteitsbewijs (paspoort, ID-kaart of rijbewijs).\n\n"
        "Heb je hier niet om gevraagd? Negeer deze e-mail dan: zonder de code gebeurt er niets.\n\n"
        "Groet,\nVoltera, team privacy"
    ),
    "en": (
        "Hello,\n\n"
        "Your verification code for the Voltera privacy assistant is:\n\n"
        "    {code}\n\n"
        "Type this code in the chat to confirm that this e-mail address is yours. "
        "The code is valid for {minutes} minutes (until {until}) and works only once.\n\n"
        "We never ask for a copy of your identity document (passport, ID card or driving licence).\n\n"
        "Did you not ask for this? Then ignore this e-mail: without the code nothing happens.\n\n"
        "Kind regards,\nVoltera, privacy team"
    ),
}

# How the code's end is said: 14:05 Dutch time (UTC where the machine has no time zone data).
DUTCH_TIME = {"nl": " Nederlandse tijd", "en": " Dutch time"}

# --- the notice that a code sent to the customer went unused (Dutch first) ---

UNUSED_CODE_SUBJECT = "Er is een verificatiecode voor je aangevraagd / A verification code was asked for you"

# Why the code went unused, in words.
UNUSED_CODE_REASONS = {
    "locked": {"nl": "na 5 verkeerde pogingen is de code geblokkeerd", "en": "it was blocked after 5 wrong tries"},
    "expired": {"nl": "de code is verlopen zonder dat hij gebruikt is", "en": "it expired without being used"},
}

UNUSED_CODE_EMAIL = {
    "nl": (
        "Hallo,\n\n"
        "Op {asked} heeft iemand in de privacy-assistent van Voltera een verificatiecode voor dit e-mailadres "
        "aangevraagd. De code is niet gebruikt: {reason}.\n\n"
        "Was jij dat? Dan hoef je niets te doen; vraag gerust een nieuwe code aan.\n"
        "Was jij het niet? Dan heeft niemand toegang gekregen tot je gegevens: zonder de code kan dat niet. "
        "Deel een code nooit met iemand. Blijft dit gebeuren, laat het ons dan weten via {contact}.\n\n"
        "Wij vragen nooit om een kopie van je identiteitsbewijs (paspoort, ID-kaart of rijbewijs).\n\n"
        "Groet,\nVoltera, team privacy"
    ),
    "en": (
        "Hello,\n\n"
        "On {asked}, someone asked the Voltera privacy assistant for a verification code for this e-mail address. "
        "The code was not used: {reason}.\n\n"
        "Was that you? Then there is nothing to do; feel free to ask for a new code.\n"
        "Was it not you? Then nobody got access to your data: without the code that is not possible. "
        "Never share a code with anyone. If this keeps happening, let us know at {contact}.\n\n"
        "We never ask for a copy of your identity document (passport, ID card or driving licence).\n\n"
        "Kind regards,\nVoltera, privacy team"
    ),
}

# --- the answer to "what do you hold about me", and its download ---

LEGAL_BASES = {
    "consent": {"nl": "toestemming", "en": "consent"},
    "contract": {"nl": "uitvoering van een overeenkomst", "en": "performance of a contract"},
    "legal_obligation": {"nl": "wettelijke verplichting", "en": "legal obligation"},
    "legitimate_interest": {"nl": "gerechtvaardigd belang", "en": "legitimate interest"},
}
YES_NO = {"nl": ("ja", "nee"), "en": ("yes", "no")}
CONVERSATION_PREVIEW = {
    "nl": "Gesprek met de chatassistent op {date}, {count} {messages}",
    "en": "Conversation with the chat assistant on {date}, {count} {messages}",
}
MESSAGES_WORD = {"nl": ("bericht", "berichten"), "en": ("message", "messages")}

# --- a download link that no longer works (shown in the customer's browser) ---

LINK_CHANGED = "this download link is not valid: it was changed, or it was not made by us. Ask the assistant for a new link."
LINK_INVALID = "this download link is not valid. Ask the assistant for a new link."
LINK_EXPIRED = "this download link has expired: links work for {minutes} minutes. Ask the assistant for a new link."

# --- a chat handed to a person (the agent's words go to the customer as typed) ---

AGENT_JOINED = {"nl": "Je praat nu met {name} van het team van Voltera.", "en": "You are now talking to {name} from Voltera's team."}
AGENT_SAYS = {"nl": "{name}: {text}", "en": "{name}: {text}"}
AGENT_TRANSFERRED = {"nl": "{name} geeft je gesprek door aan een collega. Even geduld.",
                     "en": "{name} is passing your chat to a colleague. One moment, please."}
BOT_IS_BACK = {"nl": "Je praat weer met de assistent van Voltera. Waarmee kan ik je helpen?",
               "en": "You are talking to Voltera's assistant again. How can I help?"}
STOPPED_WAITING = {"nl": "Je wacht niet meer op een medewerker. Je praat weer met de assistent.",
                   "en": "You are no longer waiting for a member of staff. You are talking to the assistant again."}
AGENT_CLOSED = {"nl": "{name} heeft het gesprek afgesloten. Je praat weer met de assistent als je nog iets wilt vragen.",
                "en": "{name} has closed the chat. The assistant is here if you want to ask anything else."}
AGENT_FILED = {"nl": "{name} heeft je verzoek {request} ingediend. We handelen het uiterlijk {due} af.",
               "en": "{name} has filed your request {request}. We complete it by {due}."}

# --- the e-mail receipt of a filed request (requests/service/receipts.py), in the customer's language ---

MONTH_NAMES = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
}
REQUEST_TYPE_NAMES = {
    "access": {"nl": "inzage in en een kopie van je gegevens (AVG art. 15)", "en": "access to and a copy of your data (GDPR Art. 15)"},
    "portability": {"nl": "je gegevens meenemen (AVG art. 20)", "en": "data portability (GDPR Art. 20)"},
    "rectification": {"nl": "correctie van je gegevens (AVG art. 16)", "en": "correction of your personal data (GDPR Art. 16)"},
    "erasure": {"nl": "verwijdering van je gegevens (AVG art. 17)", "en": "erasure of your personal data (GDPR Art. 17)"},
    "restriction": {"nl": "beperking van de verwerking (AVG art. 18)", "en": "restriction of processing (GDPR Art. 18)"},
    "objection": {"nl": "bezwaar tegen de verwerking (AVG art. 21)", "en": "objection to processing (GDPR Art. 21)"},
    "objection_direct_marketing": {"nl": "bezwaar tegen direct marketing (AVG art. 21)",
                                   "en": "objection to direct marketing (GDPR Art. 21)"},
    "withdraw_consent": {"nl": "intrekken van je toestemming (AVG art. 7)", "en": "withdrawal of your consent (GDPR Art. 7)"},
    "opt_out": {"nl": "afmelden (AVG art. 7 en 21)", "en": "opt-out (GDPR Art. 7 and 21)"},
}
RECEIPT_SUBJECT = {"nl": "We hebben je privacyverzoek ontvangen ({request})", "en": "We received your privacy request ({request})"}
RECEIPT_EMAIL = {
    "nl": (
        "Hallo,\n\n"
        "We hebben je privacyverzoek ontvangen. Dit zijn de gegevens ervan:\n\n"
        "Verzoeknummer: {request}\n"
        "Soort verzoek: {type}\n"
        "Ontvangen op: {received}\n"
        "Uiterlijk afgehandeld op: {due}\n\n"
        "Wil je weten hoe het ermee staat? Vraag het de assistent op voltera.nl (\"waar staat mijn verzoek?\"), "
        "of mail {privacy_email} en noem je verzoeknummer.\n\n"
        "Heb je dit verzoek niet zelf gedaan? Mail dan meteen {privacy_email}.\n\n"
        "Groet,\nVoltera, team privacy\n"
    ),
    "en": (
        "Hello,\n\n"
        "We received your privacy request. These are its details:\n\n"
        "Request number: {request}\n"
        "Type of request: {type}\n"
        "Received on: {received}\n"
        "Completed by: {due}\n\n"
        "Want to know how it is going? Ask the assistant on voltera.nl (\"where is my request?\"), "
        "or e-mail {privacy_email} with your request number.\n\n"
        "Did you not make this request yourself? Then e-mail {privacy_email} straight away.\n\n"
        "Regards,\nVoltera, privacy team\n"
    ),
}

# What an agent may insert into a reply with one click (the console's canned replies), per language.
CANNED_REPLIES = {
    "nl": {
        "Begroeting": "Hallo, ik help je graag. Waar gaat je vraag over?",
        "Even geduld": "Een moment, ik zoek het voor je uit.",
        "Verifiëren": "Om je gegevens te laten zien of een verzoek voor je in te dienen, moet ik weten dat jij het bent: log in op de "
                      "website of typ het e-mailadres van je account in de chat, dan krijg je een code.",
        "Nog iets?": "Kan ik je nog ergens anders mee helpen?",
        "Afsluiten": "Dank je wel voor je vraag. Fijne dag!",
    },
    "en": {
        "Greeting": "Hello, I'm happy to help. What is your question about?",
        "One moment": "One moment please, I'm looking into it.",
        "Verify": "To show your data or file a request for you, I need to know it is you: log in on the website, or type the e-mail "
                  "address of your account in the chat and you will get a code.",
        "Anything else?": "Is there anything else I can help you with?",
        "Closing": "Thank you for your question. Have a good day!",
    },
}


# --- the privacy team's decision on an objection (Art. 21(1)), e-mailed to the customer in their language ---

OBJECTION_OUTCOME_SUBJECT = {
    "nl": "Besluit over je bezwaar ({request})",
    "en": "Decision on your objection ({request})",
}
OBJECTION_OUTCOME = {
    "upheld": {
        "nl": (
            "Hallo,\n\n"
            "Je hebt bezwaar gemaakt tegen het gebruik van je gegevens voor {purpose} (verzoek {request}, AVG artikel 21 lid 1). "
            "Ons privacyteam heeft je bezwaar toegewezen: we stoppen met {purpose} voor jou, in elk systeem dat je gegevens "
            "daarvoor gebruikt. Je andere gegevens en diensten blijven zoals ze zijn.\n\n"
            "Ben je het ergens niet mee eens? Je kunt een klacht indienen bij de {authority} ({authority_url}).\n\n"
            "Groet,\nVoltera, team privacy"
        ),
        "en": (
            "Hello,\n\n"
            "You objected to the use of your data for {purpose} (request {request}, GDPR Article 21(1)). "
            "Our privacy team has upheld your objection: we stop {purpose} for you, in every system that uses your data for it. "
            "Your other data and services stay as they are.\n\n"
            "Do you disagree with anything? You can complain to the {authority} ({authority_url}).\n\n"
            "Regards,\nVoltera, privacy team"
        ),
    },
    "refused": {
        "nl": (
            "Hallo,\n\n"
            "Je hebt bezwaar gemaakt tegen het gebruik van je gegevens voor {purpose} (verzoek {request}, AVG artikel 21 lid 1). "
            "Ons privacyteam heeft je bezwaar afgewezen, om deze reden:\n\n"
            "    {reason}\n\n"
            "Ben je het daar niet mee eens? Je kunt een klacht indienen bij de {authority} ({authority_url}), "
            "of naar de rechter stappen.\n\n"
            "Groet,\nVoltera, team privacy"
        ),
        "en": (
            "Hello,\n\n"
            "You objected to the use of your data for {purpose} (request {request}, GDPR Article 21(1)). "
            "Our privacy team has refused your objection, for this reason:\n\n"
            "    {reason}\n\n"
            "Do you disagree? You can complain to the {authority} ({authority_url}), or go to court.\n\n"
            "Regards,\nVoltera, privacy team"
        ),
    },
}
