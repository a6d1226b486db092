"""What every chat channel lets through to the assistant, in one place: the website's socket.io
channel, our REST channel, and the connectors to come (WhatsApp, Telegram, Teams) use these.

- **A message** is at most `MAX_MESSAGE_CHARS` characters (setting `MAX_MESSAGE_CHARS`, default
  2,000). A longer one is answered by the channel itself, in the customer's language, that it is too
  long, and never reaches the NLU pipeline, whose cost grows with the text (one 100,000-character
  message used to hold the Rasa server for every conversation for about 20 s).
- **A request** (a REST body, a socket.io packet) is at most `MAX_REQUEST_BYTES` (setting
  `SANIC_REQUEST_MAX_SIZE`, which Rasa's web server Sanic also reads, so it refuses a bigger body
  with 413 before reading it; default 1 MiB). Between the two limits a message still gets the
  "too long" answer.
- **Metadata** is a JSON object of at most `MAX_METADATA_BYTES` (8 KiB serialised). Keys starting
  with `_` are the server's own (the website channel adds `_connection` and `_source`): a client's
  are dropped. Keys that look like credentials are dropped at any depth, so that no token is ever
  stored in the tracker store, and nothing deeper than `MAX_METADATA_DEPTH` is kept.
- **Text** reaches the NLU as well-formed Unicode: a lone surrogate becomes U+FFFD.
- **A sender id** (the conversation id a channel names) is 1 to 128 letters, digits and
  `_ . : @ + = -`, starting with a letter, digit or `+`: no `/`, `?`, `#`, `%` or spaces (it
  becomes part of URLs such as `/conversations/<id>/tracker`), and no `.` or `..` alone.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from lingua import Language, LanguageDetectorBuilder

import texts


def _positive_int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


MAX_MESSAGE_CHARS = _positive_int_setting("MAX_MESSAGE_CHARS", 2_000)
MAX_REQUEST_BYTES = _positive_int_setting("SANIC_REQUEST_MAX_SIZE", 1_048_576)
MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 8
SENDER_ID = re.compile(r"[A-Za-z0-9+][A-Za-z0-9_.:@+=-]{0,127}")
CREDENTIAL_KEY = re.compile(r"token|secret|passw|authori[sz]ation|cookie|jwt|api[_-]?key", re.IGNORECASE)

# The language of a too-long message: read from this many characters, with at least this many words,
# one language this much likelier than the other.
LANGUAGE_SAMPLE_CHARS = 300
LANGUAGE_MIN_WORDS = 3
LANGUAGE_MIN_RATIO = 2.0
_DETECTOR = LanguageDetectorBuilder.from_languages(Language.DUTCH, Language.ENGLISH).with_low_accuracy_mode().build()


class Refused(ValueError):
    """Input a channel does not take, with the reason to tell the client and the HTTP status to tell it with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def is_too_long(text: str) -> bool:
    return len(text) > MAX_MESSAGE_CHARS


def well_formed_text(value: Any) -> str:
    """The message as text the NLU can read: a lone surrogate (JSON allows "\\ud800") becomes U+FFFD,
    since the language detector (Rust) cannot take one; anything but a string is an empty message."""
    if not isinstance(value, str):
        return ""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def message_language(text: str, page_language: Any = None) -> str | None:
    """`nl` or `en`: the page's language when it names one, else a cheap guess from the start of the
    text; None when neither tells (a long string without spaces, random characters)."""
    if isinstance(page_language, str):
        page = page_language.strip().lower()[:2]
        if page in texts.LANGUAGES:
            return page
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if len(sample.split()) < LANGUAGE_MIN_WORDS:
        return None
    confidence = {c.language: c.value for c in _DETECTOR.compute_language_confidence_values(sample)}
    nl, en = confidence.get(Language.DUTCH, 0.0), confidence.get(Language.ENGLISH, 0.0)
    if nl > 0 and nl >= en * LANGUAGE_MIN_RATIO:
        return "nl"
    if en > 0 and en >= nl * LANGUAGE_MIN_RATIO:
        return "en"
    return None


def too_long_answer(text: str, page_language: Any = None) -> str:
    """What the customer is told instead of an answer, in their language (in every language when unknown)."""
    language = message_language(text, page_language)
    limit = f"{MAX_MESSAGE_CHARS:,}"
    languages = [language] if language else texts.LANGUAGES
    return "\n\n".join(texts.text(lang, "channels.too_long").format(limit=limit.replace(",", ".") if lang == "nl" else limit)
                       for lang in languages)


def is_sender_id(value: Any) -> bool:
    return isinstance(value, str) and SENDER_ID.fullmatch(value) is not None


def without_credentials(value: Any, depth: int = 0) -> Any:
    """The metadata without any key that looks like a credential (at any depth)."""
    if depth > MAX_METADATA_DEPTH:
        return None
    if isinstance(value, dict):
        return {k: without_credentials(v, depth + 1) for k, v in value.items()
                if not (isinstance(k, str) and CREDENTIAL_KEY.search(k))}
    if isinstance(value, list):
        return [without_credentials(v, depth + 1) for v in value]
    return value


def serialised_size(value: Any) -> int:
    """Bytes of `value` as JSON (UTF-8); refused when it is not JSON or nested beyond what JSON can write."""
    try:
        return len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        raise Refused("metadata must be plain JSON") from None


def client_metadata(value: Any) -> dict[str, Any]:
    """The metadata a client sent, as the assistant may keep it; `Refused` when it is not an object
    (400) or too large (413). None (no metadata) is an empty object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused("metadata must be a JSON object")
    if serialised_size(value) > MAX_METADATA_BYTES:
        raise Refused(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON", 413)
    own = {k: v for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))}
    return without_credentials(own)
