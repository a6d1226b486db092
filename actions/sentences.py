"""Every sentence the action server shows a customer, in Dutch and in English: a translator finds a
language's sentences here, and only here.

Each entry is keyed by language (`{"nl": ..., "en": ...}`); `{name}` marks a value the code fills in.
`SENTENCES` holds the sentences by what they are for; the tables after it hold the names of the ids
the back office serves (`GET /api/vocabulary`: rights, request statuses, consents, correctable fields)
and of the knowledge base's topics and legal bases. tests/test_sentences.py checks that every entry has
both languages and every served id a name in both.

What a customer reads comes from three other places, each with its own home:
- the responses in bot/domain.yml (`utter_*`), Rasa's own place for its texts;
- connectors/sentences.py: what the chat channels answer before a message reaches Rasa (a message
  too long, a website login that could not be confirmed); the channels run in the Rasa server, not here;
- the knowledge base (knowledge/<version>/*.yml): the company's texts about its data, which the back
  office serves in both languages.
"""
from __future__ import annotations

from string import Formatter
from typing import Any

LANGUAGES = ("nl", "en")

Wording = dict[str, str]

SENTENCES: dict[str, Wording] = {
    # -- when the assistant cannot help ---------------------------------------------------------
    "not_understood": {
        "nl": "Sorry, dat begreep ik niet. Ik help je met vragen over je persoonsgegevens: welke gegevens we hebben, "
        "waarvoor, hoe lang, met wie we ze delen, en hoe je ze inziet, wijzigt of laat verwijderen.",
        "en": "Sorry, I didn't understand that. I can help with questions about your personal data: what we hold, why, "
        "for how long, who we share it with, and how to see, correct or delete it.",
    },
    "unavailable": {
        "nl": "Ik kan ons privacyregister nu even niet bereiken. Probeer het over een minuut opnieuw; je vraag is niet verloren.",
        "en": "I can't reach our privacy register right now. Please try again in a minute; nothing you asked is lost.",
    },
    "other_language": {
        "nl": "Ik spreek Nederlands en Engels. / I speak Dutch and English.",
        "en": "I speak English and Dutch. / Ik spreek Engels en Nederlands.",
    },
    "try_again_later": {"nl": "15 min", "en": "15 min"},  # when the time to try again is not known
    # -- answers from the knowledge base (actions/answers.py) -----------------------------------
    "source": {"nl": "Bron: privacyregister versie {v}.", "en": "Source: privacy register version {v}."},
    "overview": {
        "nl": "Dit zijn de gegevens die we van klanten kunnen hebben:",
        "en": "These are the personal data we may hold about customers:",
    },
    "overview_more": {
        "nl": "Vraag gerust door, bijvoorbeeld: waarom hebben jullie mijn aankoopgeschiedenis, of hoe lang bewaren jullie die?",
        "en": "Ask me more, for example: why do you have my purchase history, or how long do you keep it?",
    },
    "we_hold": {"nl": "Je {name}: {description}", "en": "Your {name}: {description}"},
    "from_source": {"nl": "Herkomst: {source}", "en": "Where it comes from: {source}"},
    "used_for": {"nl": "We gebruiken dit voor: {purposes}.", "en": "We use it for: {purposes}."},
    "purposes_intro": {
        "nl": "Hiervoor gebruiken we je gegevens (met de grondslag):",
        "en": "This is what we use your data for (and the legal basis):",
    },
    "purposes_for": {
        "nl": "Waarvoor we je {name} gebruiken (met de grondslag):",
        "en": "What we use your {name} for (and the legal basis):",
    },
    "automated": {"nl": "Geautomatiseerd besluit: {logic}", "en": "Automated decision: {logic}"},
    "benefit_intro": {"nl": "Wat je ervoor terugkrijgt:", "en": "What you get in return:"},
    "retention_one": {
        "nl": "We bewaren je {name}: {period}. Waarom: {reason}",
        "en": "We keep your {name}: {period}. Why: {reason}",
    },
    "retention_intro": {"nl": "Zo lang bewaren we je gegevens:", "en": "This is how long we keep your data:"},
    "recipients_intro": {"nl": "Wie je gegevens ontvangt:", "en": "Who receives your data:"},
    "outside_eu": {"nl": "buiten de EU, beschermd door: {safeguard}", "en": "outside the EU, protected by: {safeguard}"},
    "no_transfers": {"nl": "Geen van onze ontvangers zit buiten de EU.", "en": "None of our recipients is outside the EU."},
    "transfers_intro": {"nl": "Ontvangers buiten de EU:", "en": "Recipients outside the EU:"},
    "kept_intro": {"nl": "Wat we ook na verwijdering moeten bewaren:", "en": "What we must keep even after erasure:"},
    "opt_out_intro": {"nl": "Uitzetten kan voor:", "en": "You can switch off:"},
    "changes_intro": {
        "nl": "Wat er veranderd is in versie {v} (geldig vanaf {date}):",
        "en": "What changed in version {v} (in effect from {date}):",
    },
    "first_version": {
        "nl": "Versie {v} is onze eerste gepubliceerde versie.",
        "en": "Version {v} is our first published version.",
    },
    "since_last_visit": {
        "nl": "Sinds je vorige bezoek (versie {old}) is ons privacybeleid veranderd:",
        "en": "Since your last visit (version {old}) our privacy terms have changed:",
    },
    "dpo": {
        "nl": "Verantwoordelijk voor je gegevens is {company}. Onze functionaris gegevensbescherming is {name}: {email}, "
              "{phone}.",
        "en": "{company} is responsible for your data. Our data protection officer is {name}: {email}, {phone}.",
    },
    "service": {
        "nl": "Klantenservice: {email}, {phone} ({hours}).",
        "en": "Customer service: {email}, {phone} ({hours}).",
    },
    "human": {
        "nl": "Je bereikt een mens ook zo:",
        "en": "You can also reach a person here:",
    },
    # -- handing the chat to a person (actions/handoff.py) -------------------------------------
    "handing_over": {
        "nl": "Ik geef je door aan een medewerker van Voltera. Je bent nummer {position} in de rij; de verwachte wachttijd is "
              "ongeveer {minutes} minuten. Alles wat je nu typt, komt bij hen aan.",
        "en": "I'm handing you over to a member of Voltera's team. You are number {position} in the queue; the expected wait is "
              "about {minutes} minutes. Everything you type now reaches them.",
    },
    "stop_waiting_button": {"nl": "Niet meer wachten", "en": "Stop waiting"},
    "nobody_now": {
        "nl": "Er is nu niemand van ons team beschikbaar voor een chat{opens}. Ik kan je vraag met dit gesprek als ticket "
              "doorgeven; je krijgt dan uiterlijk {date} antwoord per e-mail.",
        "en": "Nobody from our team can take a chat right now{opens}. I can pass your question on as a ticket, with this "
              "conversation, and we answer by e-mail by {date}.",
    },
    "opens_at": {"nl": " (we zijn er weer op {when})", "en": " (we are back on {when})"},
    "ticket_button": {"nl": "Laat een ticket achter", "en": "Leave a ticket"},
    "ticket_verify_first": {
        "nl": "Om je per e-mail te antwoorden, moet ik eerst weten dat jij het bent: typ het e-mailadres van je Voltera-account, "
              "dan stuur ik je een code.",
        "en": "To answer you by e-mail, I first need to know it is you: type the e-mail address of your Voltera account and "
              "I'll send you a code.",
    },
    "ticket_recorded": {
        "nl": "Dank je. Je vraag staat genoteerd als ticket {ticket}. We antwoorden uiterlijk {date} per e-mail, op het "
              "adres dat we van je hebben.",
        "en": "Thank you. Your question is recorded as ticket {ticket}. We answer by e-mail by {date}, at the address we have "
              "for you.",
    },
    "not_waiting": {"nl": "Je wacht niet op een medewerker. Waarmee kan ik je helpen?",
                    "en": "You are not waiting for a member of staff. How can I help?"},
    "clarify": {
        "nl": "Ik weet niet zeker wat je bedoelt. Gaat je vraag over een van deze onderwerpen?",
        "en": "I'm not sure what you mean. Is your question about one of these?",
    },
    "all_details": {"nl": "Alle details", "en": "All details"},
    "outside_eu_button": {"nl": "Welke ontvangers zitten buiten de EU?", "en": "Which recipients are outside the EU?"},
    "automated_flag": {"nl": "geautomatiseerd besluit", "en": "automated decision"},
    "kept_retention_button": {"nl": "Hoe lang: {name}", "en": "How long: {name}"},
    # -- privacy requests: the summary to confirm, the receipt, their status, the customer's own data
    # (actions/rights.py) -----------------------------------------------------------------------
    "summary_intro": {"nl": "Dit ga ik voor je indienen:", "en": "This is what I will file for you:"},
    "summary_right": {"nl": "Verzoek: {right}", "en": "Request: {right}"},
    "summary_all": {"nl": "Wat: alles wat we over je hebben ({names})", "en": "What: everything we hold about you ({names})"},
    "summary_some": {"nl": "Wat: {names}", "en": "What: {names}"},
    "summary_kept": {"nl": "Wat we moeten bewaren, en waarom:", "en": "What we must keep, and why:"},
    "summary_chats": {
        "nl": "Ook je gesprekken met deze assistent worden gewist.",
        "en": "Your conversations with this assistant are erased too.",
    },
    "summary_field": {"nl": "Je {field} wordt: {value}", "en": "Your {field} becomes: {value}"},
    "summary_stop": {"nl": "Stoppen met: {purposes}", "en": "Stop: {purposes}"},
    "summary_now": {"nl": "Dit gaat direct in, zonder beoordeling.", "en": "This takes effect at once, with no approval step."},
    "summary_restriction": {
        "nl": "We bewaren je gegevens nog wel, maar gebruiken ze niet meer tot je het anders aangeeft.",
        "en": "We keep your data, but stop using it until you tell us otherwise.",
    },
    "summary_deadline": {"nl": "We handelen het binnen een maand af.", "en": "We complete it within one calendar month."},
    "summary_question": {"nl": "Zal ik het indienen?", "en": "Shall I file it?"},
    "yes_file": {"nl": "Ja, dien in", "en": "Yes, file it"},
    "no_cancel": {"nl": "Nee", "en": "No"},
    "receipt": {
        "nl": "Ingediend. Je verzoeknummer is {id}: {right}. We ronden het uiterlijk {due} af.",
        "en": "Filed. Your request number is {id}: {right}. We will complete it by {due}.",
    },
    "receipt_now": {
        "nl": "Dit is meteen ingegaan: vanaf nu stoppen we met {purposes}.",
        "en": "This has taken effect already: from now on we stop {purposes}.",
    },
    "receipt_kept": {
        "nl": "Wat we wettelijk moeten bewaren, blijft bewaard: {kept}.",
        "en": "What the law makes us keep stays: {kept}.",
    },
    "receipt_track": {
        "nl": "Vraag me gerust 'wat is de status van mijn verzoek?'.",
        "en": "Ask me 'what is the status of my request?' any time.",
    },
    "repeat": {
        "nl": "Dit verzoek was al ingediend ({id}); ik heb het niet nog eens ingediend.",
        "en": "This request was filed already ({id}); I did not file it twice.",
    },
    "canceled": {"nl": "Goed, ik heb niets ingediend.", "en": "All right, I have not filed anything."},
    "no_requests": {"nl": "Je hebt nog geen privacyverzoeken bij ons.", "en": "You have no privacy requests with us yet."},
    "status_intro": {"nl": "Je privacyverzoeken:", "en": "Your privacy requests:"},
    "status_line": {"nl": "{id}, {right}: {status}", "en": "{id}, {right}: {status}"},
    "status_fulfilled": {"nl": "afgerond op {date}", "en": "fulfilled on {date}"},
    "status_progress": {
        "nl": "in behandeling, {done} van de {total} systemen klaar; uiterlijk {due}",
        "en": "in progress, {done} of {total} systems done; due by {due}",
    },
    "status_attention": {
        "nl": "Een van onze systemen reageert nog niet; ons privacyteam kijkt ernaar.",
        "en": "One of our systems is not responding yet; our privacy team is looking into it.",
    },
    "status_extended": {"nl": "verlengd tot {due}: {reason}", "en": "extended to {due}: {reason}"},
    "status_denied": {"nl": "afgewezen: {reason}", "en": "denied: {reason}"},
    "which_purpose": {"nl": "Waarmee wil je dat we stoppen?", "en": "What would you like us to stop?"},
    "all_marketing": {"nl": "Alle marketing", "en": "All marketing"},
    "data_intro": {
        "nl": "Dit zijn de gegevens die we over je hebben, per soort, met waarvoor we ze gebruiken, "
              "op welke grond en hoe lang we ze bewaren:",
        "en": "This is the data we hold about you, by kind, with what we use it for, on which legal basis, "
              "and how long we keep it:",
    },
    "data_records": {"nl": "{n} gegeven(s)", "en": "{n} record(s)"},
    "data_for": {"nl": "Waarvoor: {purposes}", "en": "Used for: {purposes}"},
    "data_kept": {"nl": "Bewaard: {period}", "en": "Kept: {period}"},
    "data_recipients": {"nl": "Ontvangers: {names}", "en": "Recipients: {names}"},
    "data_source": {"nl": "Herkomst: {source}", "en": "Source: {source}"},
    "data_empty": {"nl": "Hierover hebben we niets van je: {names}.", "en": "We hold nothing about you in: {names}."},
    "data_kept_after_erasure": {
        "nl": "Na je verzoek om verwijdering bewaren we dit nog, omdat de wet het vraagt:",
        "en": "After your request for erasure we still keep this, because the law requires it:",
    },
    "data_chats": {
        "nl": "Je gesprekken met deze assistent: {count} gesprek(ken), {messages} berichten.",
        "en": "Your conversations with this assistant: {count} conversation(s), {messages} messages.",
    },
    "data_download": {
        "nl": "Alles downloaden (geldig tot {time}, alleen voor jou): [JSON]({json}) · [CSV]({csv})",
        "en": "Download everything (valid until {time}, for you only): [JSON]({json}) · [CSV]({csv})",
    },
    "data_rights": {
        "nl": "Klopt er iets niet? Je kunt je gegevens laten corrigeren, verwijderen of de verwerking laten beperken, "
              "en je kunt een klacht indienen bij de Autoriteit Persoonsgegevens.",
        "en": "Something wrong? You can have your data corrected, erased or its processing restricted, "
              "and you can complain to the Dutch Data Protection Authority (Autoriteit Persoonsgegevens).",
    },
    "data_only_yours": {
        "nl": "Ik laat alleen de gegevens zien van de klant die in dit gesprek is gecontroleerd: jij.",
        "en": "I only show the data of the customer verified in this conversation: you.",
    },
    # -- verifying the customer and filing (actions/customer_actions.py) ------------------------
    "verify_first": {
        "nl": "Daarvoor moet ik eerst weten dat jij het bent. Log in op de website (dan herken ik je hier), of typ het "
              "e-mailadres dat je bij ons gebruikt: ik stuur je dan een code van 6 cijfers. Een kopie van je ID vraag ik nooit.",
        "en": "For that I first need to know it's you. Log in on the website (then I recognise you here), or type the e-mail "
              "address you use with us and I'll send you a 6-digit code. I never ask for a copy of your ID.",
    },
    "code_sent": {
        "nl": "Als dit adres bij een klant hoort, is er nu een code van 6 cijfers naartoe gestuurd. "
              "Hij is {minutes} minuten geldig. Typ de code hier.",
        "en": "If this address belongs to a customer, a 6-digit code is on its way to it. It is valid for {minutes} minutes. "
              "Type the code here.",
    },
    "code_not_sent": {
        "nl": "Ik heb nu geen code gestuurd: voor dit adres zijn de afgelopen tijd al zoveel codes aangevraagd als mag. "
              "Log in op de website, dan herken ik je hier. Of typ je e-mailadres over een uur opnieuw.",
        "en": "I have not sent a code this time: as many codes were asked for this address lately as it may get. "
              "Log in on the website instead, then I recognise you here. Or type your e-mail address again in an hour.",
    },
    "not_an_email": {
        "nl": "Dat lijkt geen e-mailadres. Probeer het nog eens?",
        "en": "That doesn't look like an e-mail address. Try again?",
    },
    "already_verified": {
        "nl": "Je bent in dit gesprek al gecontroleerd. "
              "Ik laat alleen jouw eigen gegevens zien en dien alleen voor jou verzoeken in.",
        "en": "You are already verified in this conversation. I only show your own data and file requests only for you.",
    },
    "verified": {"nl": "Dank je, je bent gecontroleerd.", "en": "Thank you, you are verified."},
    "verified_next": {
        "nl": "Wat kan ik voor je doen? Bijvoorbeeld: 'laat mijn gegevens zien' of 'wat is de status van mijn verzoek?'.",
        "en": "What can I do for you? For example: 'show my data' or 'what is the status of my request?'.",
    },
    "code_wrong": {
        "nl": "Die code klopt niet. Je kunt het nog {left} keer proberen.",
        "en": "That code is not right. You have {left} more tries.",
    },
    "code_wrong_last": {
        "nl": "Die code klopt niet. Je kunt het nog 1 keer proberen.",
        "en": "That code is not right. You have 1 more try.",
    },
    "code_locked": {
        "nl": "Te vaak een verkeerde code: deze code is geblokkeerd. "
              "Vraag na {when} een nieuwe code aan door je e-mailadres opnieuw te typen.",
        "en": "Too many wrong codes: this code is blocked. Ask for a new code after {when} by typing your e-mail address again.",
    },
    "code_expired": {
        "nl": "Deze code is verlopen. Typ je e-mailadres opnieuw voor een nieuwe code.",
        "en": "This code has expired. Type your e-mail address again for a new one.",
    },
    "code_used": {
        "nl": "Deze code is al gebruikt. Typ je e-mailadres opnieuw voor een nieuwe code.",
        "en": "This code has been used already. Type your e-mail address again for a new one.",
    },
    "no_code": {
        "nl": "Ik heb in dit gesprek nog geen code gestuurd. Typ eerst je e-mailadres.",
        "en": "I haven't sent a code in this conversation yet. Type your e-mail address first.",
    },
    "other_customer": {
        "nl": "Dit gesprek hoort al bij een andere klant. Begin een nieuw gesprek om jezelf te laten controleren.",
        "en": "This conversation already belongs to another customer. Start a new conversation to verify yourself.",
    },
    "too_many_codes": {
        "nl": "Er zijn te veel codes aangevraagd. Probeer het na {when} opnieuw, of log in op de website.",
        "en": "Too many codes were asked for. Try again after {when}, or log in on the website.",
    },
    "which_field": {"nl": "Welk gegeven wil je laten corrigeren?", "en": "Which detail should we correct?"},
    "type_value": {
        "nl": "Typ je juiste {field} zo: 'nieuw {word}: ...'. Bijvoorbeeld: 'nieuw {word}: {example}'.",
        "en": "Type your correct {field} like this: 'new {word}: ...'. For example: 'new {word}: {example}'.",
    },
    # -- a value typed after the assistant asked for it; the register's own way to switch a purpose off --
    "value_not_read": {
        "nl": "Dat kon ik niet lezen als je {field}. Typ het zo: 'nieuw {word}: {example}'.",
        "en": "I couldn't read that as your {field}. Type it like this: 'new {word}: {example}'.",
    },
    "field_not_read": {
        "nl": "Daarin herken ik geen gegeven dat je kunt laten corrigeren: je naam, adres, e-mailadres of telefoonnummer.",
        "en": "I don't see a detail you can have corrected in that: your name, address, e-mail address or phone number.",
    },
    "how_to_stop": {
        "nl": "Zo zet je het zelf uit, volgens ons privacyregister:",
        "en": "How to switch it off yourself, from our privacy register:",
    },
    "not_linked": {
        "nl": "Deze gegevens koppelen we niet aan je naam of account, dus ik hoef niet te weten wie je bent: "
              "zet het uit zoals hierboven staat.",
        "en": "We don't link this data to your name or account, so I don't need to know who you are: "
              "switch it off as described above.",
    },
    "not_a_recipient": {
        "nl": "Ons privacyregister noemt {names} niet als ontvanger: we geven je gegevens niet aan hen.",
        "en": "Our privacy register does not list {names} as a recipient: we do not give them your data.",
    },
    "list_and": {"nl": "en", "en": "and"},
    "list_or": {"nl": "of", "en": "or"},
    "is_a_recipient": {
        "nl": "Ja, ons privacyregister noemt {names} als ontvanger; hieronder staat waarvoor.",
        "en": "Yes, our privacy register lists {names} as a recipient; below you see what for.",
    },
    "not_filed": {
        "nl": "Het indienen is niet gelukt: {detail}. Er is niets ingediend.",
        "en": "Filing did not work: {detail}. Nothing was filed.",
    },
    "filing_unsure": {
        "nl": "Ik kon het indienen niet bevestigen: ons systeem reageert even niet. Zeg over een minuut nog eens 'ja': "
              "het wordt nooit twee keer ingediend.",
        "en": "I could not confirm the filing: our system is not answering right now. Say 'yes' again in a minute: "
              "it will never be filed twice.",
    },
    "nothing_pending": {
        "nl": "Prima. Wat wil je weten over je gegevens? Bijvoorbeeld: welke gegevens we hebben, "
              "hoe lang we ze bewaren of met wie we ze delen.",
        "en": "Great. What would you like to know about your data? For example: what we hold, how long we keep it, "
              "or who we share it with.",
    },
    "nothing_to_cancel": {
        "nl": "Geen probleem. Stel gerust een andere vraag over je gegevens.",
        "en": "No problem. Feel free to ask anything else about your data.",
    },
    "no_draft": {
        "nl": "Er staat in dit gesprek geen verzoek klaar om te bevestigen, dus er is niets ingediend. Zeg wat je wilt "
              "(bijvoorbeeld 'verwijder mijn gegevens'), dan laat ik je eerst zien wat ik zou indienen.",
        "en": "There is no request waiting for your confirmation in this conversation, so nothing was filed. Tell me what "
              "you would like (for example 'delete my data') and I'll first show you what I would file.",
    },
    "draft_expired": {
        "nl": "Dit verzoek heeft te lang op je bevestiging gewacht, dus er is niets ingediend. Vraag het opnieuw, dan "
              "laat ik je een nieuwe samenvatting zien.",
        "en": "This request waited too long for your confirmation, so nothing was filed. Ask again and I'll show you a "
              "fresh summary.",
    },
    # -- an objection to a processing on legitimate interest (Art. 21(1)): weighed by the privacy team ----
    "object_button": {"nl": "Bezwaar: {name}", "en": "Object: {name}"},
    "stop_not_recognised": {
        "nl": "Dat herken ik niet als iets wat we kunnen stoppen. Kies hieronder wat je bedoelt.",
        "en": "I don't recognise that as something we can stop. Choose below what you mean.",
    },
    "summary_object": {"nl": "Waartegen: {purpose}", "en": "Against: {purpose}"},
    "summary_weighed": {
        "nl": "Ons privacyteam weegt je bezwaar: we stoppen met {purpose}, tenzij we zwaarwegende redenen hebben "
              "die we je dan uitleggen. Je hoort het besluit binnen een maand per e-mail.",
        "en": "Our privacy team weighs your objection: we stop {purpose} unless we have compelling reasons, "
              "which we then explain to you. You hear the decision by e-mail within one month.",
    },
    "receipt_weighed": {
        "nl": "Ons privacyteam beslist uiterlijk {due} over je bezwaar tegen {purpose}; je krijgt het besluit per e-mail.",
        "en": "Our privacy team decides on your objection to {purpose} by {due}; you will get the decision by e-mail.",
    },
    "status_awaiting_decision": {
        "nl": "wacht op het besluit van ons privacyteam; uiterlijk {due}",
        "en": "awaiting our privacy team's decision; due by {due}",
    },
}

# The names of the ids the back office serves (GET /api/vocabulary), by id.
RIGHT_NAMES: dict[str, Wording] = {
    "erasure": {"nl": "verwijdering van je gegevens (AVG art. 17)", "en": "erasure of your personal data (GDPR Art. 17)"},
    "rectification": {"nl": "correctie van je gegevens (AVG art. 16)", "en": "correction of your personal data (GDPR Art. 16)"},
    "restriction": {"nl": "beperking van de verwerking (AVG art. 18)", "en": "restriction of processing (GDPR Art. 18)"},
    "objection": {"nl": "bezwaar tegen de verwerking (AVG art. 21)", "en": "objection to processing (GDPR Art. 21)"},
    "objection_direct_marketing": {
        "nl": "bezwaar tegen direct marketing (AVG art. 21)",
        "en": "objection to direct marketing (GDPR Art. 21)",
    },
    "withdraw_consent": {"nl": "intrekken van je toestemming (AVG art. 7)", "en": "withdrawal of your consent (GDPR Art. 7)"},
    "opt_out": {"nl": "afmelden (AVG art. 7 en 21)", "en": "opt-out (GDPR Art. 7 and 21)"},
    "access": {
        "nl": "inzage in en een kopie van je gegevens (AVG art. 15)",
        "en": "access to and a copy of your data (GDPR Art. 15)",
    },
    "portability": {"nl": "je gegevens meenemen (AVG art. 20)", "en": "data portability (GDPR Art. 20)"},
}
CONSENT_NAMES: dict[str, Wording] = {
    "newsletter": {"nl": "marketing-e-mails en de nieuwsbrief", "en": "marketing e-mails and the newsletter"},
    "personalised_offers": {"nl": "persoonlijke aanbiedingen (profilering)", "en": "personalised offers (profiling)"},
    "wifi_counting": {
        "nl": "het tellen van je telefoon via de wifi in de winkels",
        "en": "counting your phone on the store Wi-Fi",
    },
}
FIELD_NAMES: dict[str, Wording] = {
    "name": {"nl": "naam", "en": "name"}, "address": {"nl": "adres", "en": "address"},
    "email": {"nl": "e-mailadres", "en": "e-mail address"}, "phone": {"nl": "telefoonnummer", "en": "phone number"},
}
STATUS_NAMES: dict[str, Wording] = {
    "received": {"nl": "ontvangen", "en": "received"},
    "identity_unverified": {"nl": "wacht op controle van je identiteit", "en": "waiting for your identity to be checked"},
    "verified": {"nl": "in behandeling genomen", "en": "accepted"},
    "in_progress": {"nl": "in behandeling", "en": "in progress"},
    "fulfilled": {"nl": "afgerond", "en": "fulfilled"},
    "denied": {"nl": "afgewezen", "en": "denied"},
    "canceled": {"nl": "ingetrokken", "en": "canceled"},
    "expired": {"nl": "verlopen", "en": "expired"},
}
# How to type a corrected detail: the word after "new" and an example, per field.
FIELD_EXAMPLES: dict[str, dict[str, tuple[str, str]]] = {
    "address": {"nl": ("adres", "Kerkstraat 5, 1234 AB Utrecht"), "en": ("address", "Kerkstraat 5, 1234 AB Utrecht")},
    "email": {"nl": ("e-mailadres", "naam@voorbeeld.nl"), "en": ("e-mail", "name@example.com")},
    "phone": {"nl": ("telefoonnummer", "06 12345678"), "en": ("phone number", "+31 6 12345678")},
    "name": {"nl": ("naam", "Jan Jansen"), "en": ("name", "Jan Jansen")},
}

# The knowledge base's topics (short labels for the buttons of a clarifying question) and legal bases, by id.
TOPIC_LABELS: dict[str, Wording] = {
    "what_data_collected": {"nl": "Welke gegevens jullie hebben", "en": "What data you hold"},
    "why_data_used": {"nl": "Waarvoor jullie ze gebruiken", "en": "What you use it for"},
    "sharing_third_parties": {"nl": "Met wie jullie ze delen", "en": "Who you share it with"},
    "retention": {"nl": "Hoe lang jullie ze bewaren", "en": "How long you keep it"},
    "security": {"nl": "Beveiliging", "en": "Security"},
    "access_my_data": {"nl": "Mijn gegevens inzien", "en": "See my data"},
    "correct_my_data": {"nl": "Gegevens corrigeren", "en": "Correct my data"},
    "delete_my_data": {"nl": "Gegevens verwijderen", "en": "Delete my data"},
    "opt_out": {"nl": "Afmelden of bezwaar maken", "en": "Opt out or object"},
    "policy_changes": {"nl": "Wat er veranderd is", "en": "What changed"},
    "children_and_specific_audiences": {"nl": "Kinderen", "en": "Children"},
    "international_transfers": {"nl": "Gegevens buiten de EU", "en": "Data outside the EU"},
    "cookies_tracking": {"nl": "Cookies en tracking", "en": "Cookies and tracking"},
    "contact_dpo": {"nl": "Contact met de privacy-officer", "en": "Contact the privacy officer"},
    "out_of_scope": {"nl": "Iets anders", "en": "Something else"},
}
LEGAL_BASES: dict[str, Wording] = {
    "consent": {"nl": "toestemming", "en": "your consent"},
    "contract": {"nl": "overeenkomst", "en": "contract"},
    "legal_obligation": {"nl": "wettelijke plicht", "en": "legal obligation"},
    "legitimate_interest": {"nl": "gerechtvaardigd belang", "en": "legitimate interest"},
}

MONTHS: dict[str, tuple[str, ...]] = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni",
           "juli", "augustus", "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June",
           "July", "August", "September", "October", "November", "December"),
}


SENTENCE_ENDS = (".", "!", "?")


def sentence(key: str, language: str, **values: Any) -> str:
    """The sentence in the customer's language, with its `{values}` filled in. A value that ends a sentence
    itself ("Voltera B.V.", a register text ending in a full stop) takes the place of the full stop after it."""
    composed: list[str] = []
    for literal, name, spec, conversion in _FORMATTER.parse(SENTENCES[key][language]):
        if literal.startswith(".") and composed and composed[-1].endswith(SENTENCE_ENDS):
            literal = literal[1:]
        composed.append(literal)
        if name is not None:
            value = _FORMATTER.convert_field(_FORMATTER.get_field(name, (), values)[0], conversion)
            composed.append(_FORMATTER.format_field(value, spec or ""))
    return "".join(composed)


_FORMATTER = Formatter()
