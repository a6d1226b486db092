"""Who is this customer? The rules of identity verification, with no web or database code.

The design (docs/features.md, "Identity verification"; docs/security.md): verify with reasonable
means, proportionate to the risk, and never ask for a copy of an ID document. Two means, both the
norm under the GDPR:

1. **The website's logged-in session.** The website signs a short-lived token (JWT, HS256, a secret
   shared with the chat channel) naming the customer; the chat channel checks it when the chat
   connects and the back office checks it again before it binds the conversation to that customer.
   `SessionTokens.issue()` / `SessionTokens.verify()`; `verify` returns the customer id or raises a
   `TokenError` saying what is wrong (expired, bad signature, wrong audience, malformed).
2. **A one-time code sent to the e-mail address on file.** Six digits from `secrets`, valid 10
   minutes, stored only as an HMAC-SHA256 of a server secret, a per-code salt and the code.
   `check_code()` takes a code's state and a guess and returns the outcome and the state to store.

**Limits of the codes: a stranger cannot use up a customer's codes.** Anyone can type a customer's
address, so the limits fall on who asks, and an address's codes are counted per asking conversation:

- *The code*: the 5th wrong try locks it for good (it never verifies, not even with the right
  digits).
- *The conversation that asked* (and so typed the wrong tries): after a locked code it gets no new
  code for `LOCKOUT` (15 min); it may ask `MAX_CODE_REQUESTS_PER_CONVERSATION` (5) codes an hour.
  A lock belongs to the conversation and its code only: never to the source, which a crowd behind
  one proxy may share.
- *The source that asked* (the channel's keyed hash of the client's address, `X-Chat-Source`;
  without one, only the conversation's limits apply): `MAX_CODE_REQUESTS_PER_SOURCE` (10) codes an
  hour, whatever the addresses. A coarse flood limit, right once the channels pass real client
  addresses. Conversation and source answer 429 with a reason: they do not depend on the address.
- *The address, per conversation*: at most `MAX_CODES_PER_ADDRESS_IN_A_CONVERSATION` (3) codes per
  `ADDRESS_WINDOW` (1 hour) to one address from one conversation. Other conversations' asks do not
  count here, so a stranger's asks never spend the customer's own conversation's codes.
- *The address, overall*: at most `MAX_CODES_PER_ADDRESS` (6) per `ADDRESS_WINDOW`, whoever asks.
  This bounds the mail one inbox gets (6 codes an hour, and a notice for each that goes unused) and
  the guessing: 5 tries x 6 codes = 30 guesses an hour, 720 a day, against 1,000,000 codes, at most
  1 chance in about 1,400 per day of a sustained attack, every try visible in the customer's inbox.
- *Beyond either address limit* no code is made, and the answer says so (`NOT_SENT_ANSWER`, 429
  `not_sent`): the assistant offers the website login, which no stranger can block, or a new try
  within the hour. Nobody is told "a code is on its way" when none is.
- *The customer is told*: a code that was sent and not used (locked by wrong tries, or expired)
  brings one notice e-mail to the customer's addresses on file (`service.CodeNotices`).

Both address limits count the typed address (`address_key`, a keyed hash; the address itself is
never stored), whether or not it is a customer's: an unknown address gets a decoy (`decoy_code`)
that counts exactly as a sent code. So every answer is the same for an unknown address as for a
customer's, given the same asks before it. What a stranger learns from each answer:

- *202 accepted* ("if this address belongs to a customer, a code has been sent"): nothing about the
  address, except that fewer than 6 codes were asked for it in the last hour, and fewer than 3 by
  this conversation.
- *429 not_sent*: that this conversation asked 3 codes for the address in the last hour (it knows
  that already), or that 6 were asked for it by anyone. The second is the one thing an answer tells
  about others: that somebody (the customer, or another stranger) asked codes for this address
  lately. Learning it costs the stranger up to 6 asks, each a code in the customer's inbox if the
  address is a customer's; the answer gives no count and no time but the window's length, and it is
  the same for an address that is no customer's. It never says whether the address belongs to a customer.
- *429 locked / too_many_codes*: about the conversation and the source only.
- *Trying a code*: a decoy answers like a sent code ("wrong code", 5 tries, locked).
- *Timing*: the customer records are asked for every address, and the code's e-mail goes out after
  the answer.

The trade-off, written out. A stranger's wrong codes lock only the stranger's code and
conversation. A stranger's asks spend only the address's overall cap: the customer's conversation
gets its code unless 6 codes were asked for the address within the hour. A stranger who keeps that
cap spent (6 asks an hour, from one source at most 10 asks an hour) keeps codes from the customer,
but the customer is told so and offered the website login, and sees 6 codes and 6 notices an hour
arrive. A lower cap would make that easier to do; a higher one would send more mail and allow more
guesses. A customer with two addresses on file has two inboxes, each with its own cap.

A customer id never comes from what the customer typed: it comes from a verified token, or from the
company's own records for the address a code was sent to.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace

import jwt
from jwt.types import Options

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=10)
MAX_WRONG_ATTEMPTS = 5
# How long the conversation whose wrong tries locked a code gets no new code.
LOCKOUT = dt.timedelta(minutes=15)

# How many codes may be asked for per conversation and per source (whatever addresses they type) in
# CODE_RATE_WINDOW (429 beyond), and how many go to one address in ADDRESS_WINDOW from one
# conversation and from all together (429 not_sent beyond). The module docstring says why.
CODE_RATE_WINDOW = dt.timedelta(hours=1)
MAX_CODE_REQUESTS_PER_CONVERSATION = 5
MAX_CODE_REQUESTS_PER_SOURCE = 10
ADDRESS_WINDOW = dt.timedelta(hours=1)
MAX_CODES_PER_ADDRESS_IN_A_CONVERSATION = 3
MAX_CODES_PER_ADDRESS = 6

SESSION_TOKEN_TTL = dt.timedelta(minutes=30)
TOKEN_AUDIENCE = "chat"
TOKEN_ISSUER = "voltera-website"
TOKEN_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
CLOCK_SKEW_SECONDS = 10
CUSTOMER_ID_MAX = 64

_CODE_RE = re.compile(f"[0-9]{{{CODE_DIGITS}}}")
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")
_CODE_NOISE = re.compile(r"[\s\-.]")


# --- one-time codes ------------------------------------------------------------------------------


def plausible_email(typed: str) -> bool:
    """Looks like an e-mail address (the company's records decide whether it is one of theirs)."""
    return len(typed) <= 254 and _EMAIL_RE.fullmatch(typed) is not None


def address_key(typed: str, secret: str) -> str:
    """What the limits per address count by: an HMAC-SHA256 of the address as the company's records
    match it (case-insensitively), hex. The same for a customer's address and any other, and
    without the server secret it tells nobody which address it was."""
    if not secret:
        raise ValueError("a server secret is required to key e-mail addresses")
    return hmac.new(secret.encode(), f"address:{typed.strip().lower()}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    """Six random digits (leading zeros included), from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_code(code: str, salt: str, secret: str) -> str:
    """HMAC-SHA256 of salt and code under the server secret, hex. Without the secret, a stolen table
    gives nothing: a bare hash of a 6-digit code would fall to a million guesses."""
    if not secret:
        raise ValueError("a server secret is required to hash one-time codes")
    return hmac.new(secret.encode(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def normalise_code(typed: str) -> str | None:
    """The code as typed, without spaces or dashes ("123 456", "123-456"); None unless six digits."""
    code = _CODE_NOISE.sub("", typed or "")
    return code if _CODE_RE.fullmatch(code) else None


def code_matches(typed: str, salt: str, code_hash: str, secret: str) -> bool:
    """Constant-time comparison of a typed code with a stored hash."""
    code = normalise_code(typed)
    # Hash something even for malformed input, so the answer takes the same time either way.
    candidate = hash_code(code if code is not None else "-", salt, secret)
    return hmac.compare_digest(candidate, code_hash) and code is not None


class Outcome(str, enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong_code"
    LOCKED = "locked"
    EXPIRED = "expired"
    USED = "already_used"


@dataclass(frozen=True)
class CodeState:
    """What is stored about one code: its hash and salt, and how far its use has come."""

    code_hash: str
    salt: str
    expires_at: dt.datetime
    attempts: int = 0  # every try, right or wrong, locked or not
    wrong_attempts: int = 0
    locked_until: dt.datetime | None = None
    verified_at: dt.datetime | None = None
    usable: bool = True  # False for a code that may never verify (see `decoy_code`)

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.expires_at

    def attempts_left(self) -> int:
        return max(0, MAX_WRONG_ATTEMPTS - self.wrong_attempts)


@dataclass(frozen=True)
class IssuedCode:
    code: str  # the plain code: goes into the e-mail and nowhere else
    state: CodeState


def issue_code(now: dt.datetime, secret: str, ttl: dt.timedelta = CODE_TTL) -> IssuedCode:
    code, salt = new_code(), new_salt()
    return IssuedCode(code, CodeState(code_hash=hash_code(code, salt, secret), salt=salt, expires_at=now + ttl))


def decoy_code(now: dt.datetime, secret: str, ttl: dt.timedelta = CODE_TTL) -> CodeState:
    """A code that is never sent and can never verify (the hash of something that is not six
    digits). Stored for an address that is no customer's, so that the conversation then behaves
    exactly as if a code had been sent: wrong tries count, five lock, and it counts against the
    address's limits like a sent code. Nobody can tell from the answers whether an address belongs
    to a customer."""
    salt = new_salt()
    return CodeState(code_hash=hash_code(secrets.token_hex(16), salt, secret), salt=salt, expires_at=now + ttl, usable=False)


@dataclass(frozen=True)
class CodeCheck:
    outcome: Outcome
    state: CodeState
    attempts_left: int
    locked_until: dt.datetime | None = None

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.VERIFIED


def check_code(state: CodeState, typed: str, now: dt.datetime, secret: str) -> CodeCheck:
    """Check one try. Every try counts in `attempts` (store the returned state, whatever the outcome).

    Order matters: a used code stays used; a locked code is refused even with the right digits until
    the lock ends (and after that it has expired: the lock outlasts the code); an expired code is
    refused; only then is the guess compared. The fifth wrong guess locks the code for good, and the
    asking conversation for `LOCKOUT` (the `locked_until` of the code)."""
    tried = replace(state, attempts=state.attempts + 1)
    if state.verified_at is not None:
        return CodeCheck(Outcome.USED, tried, 0)
    if state.locked_until is not None:
        if state.locked(now):
            return CodeCheck(Outcome.LOCKED, tried, 0, state.locked_until)
        return CodeCheck(Outcome.EXPIRED, tried, 0)  # a locked code stays dead after the lock: ask for a new one
    if state.expired(now):
        return CodeCheck(Outcome.EXPIRED, tried, state.attempts_left())
    if state.usable and code_matches(typed, state.salt, state.code_hash, secret):
        return CodeCheck(Outcome.VERIFIED, replace(tried, verified_at=now), state.attempts_left())
    wrong = replace(tried, wrong_attempts=state.wrong_attempts + 1)
    if wrong.wrong_attempts >= MAX_WRONG_ATTEMPTS:
        locked = replace(wrong, locked_until=now + LOCKOUT)
        return CodeCheck(Outcome.LOCKED, locked, 0, locked.locked_until)
    return CodeCheck(Outcome.WRONG, wrong, wrong.attempts_left())


# --- whether a code may be asked for, and sent ---------------------------------------------------


@dataclass(frozen=True)
class AskRefused:
    """Why a conversation or source may not ask for a code now (429), and until when."""

    reason: str  # "locked": it locked a code lately; "too_many_codes": its hourly allowance is used
    until: dt.datetime


def may_ask(lock_ends: dt.datetime | None, recent_asks: list[dt.datetime], limit: int, now: dt.datetime) -> AskRefused | None:
    """Whether one who asks (a conversation or a source) may ask for a code now: not while a code the
    conversation locked is locked (`lock_ends`; None for a source), and not beyond `limit` asks in
    `CODE_RATE_WINDOW` (`recent_asks`: its newest asks in the window, newest first, at most `limit`).
    None when it may. These limits never depend on the address asked for, so saying so tells nothing
    about it."""
    if lock_ends is not None and lock_ends > now:
        return AskRefused("locked", lock_ends)
    if len(recent_asks) >= limit:
        return AskRefused("too_many_codes", recent_asks[limit - 1] + CODE_RATE_WINDOW)
    return None


def may_send(codes_from_this_conversation: int, codes_from_all: int) -> bool:
    """Whether a code may be made for an address that got this many codes (sent, or decoys for an
    address that is no customer's) in `ADDRESS_WINDOW` from the asking conversation, and from all."""
    return codes_from_this_conversation < MAX_CODES_PER_ADDRESS_IN_A_CONVERSATION and codes_from_all < MAX_CODES_PER_ADDRESS


# The answer to a request for a code that was made, whether the address is a customer's (a code was
# sent) or not (nothing to send).
NEUTRAL_ANSWER = {
    "status": "accepted",
    "detail": (f"If this e-mail address belongs to a customer, a {CODE_DIGITS}-digit code has been sent to it. "
               f"It is valid for {int(CODE_TTL.total_seconds() // 60)} minutes."),
    "code_valid_minutes": int(CODE_TTL.total_seconds() // 60),
}

# The answer (429) when the address's limits hold a code back: nothing was sent, and it says so, the
# same for any address. It names no time but the window's length (the oldest ask's time would tell
# when somebody else asked).
NOT_SENT_ANSWER = {
    "status": "not_sent",
    "code_sent": False,
    "reason": "not_sent",
    "detail": ("No code was sent: as many codes were asked for this address lately as it may get. Log in on the "
               f"website instead, or ask again within {int(ADDRESS_WINDOW.total_seconds() // 60)} minutes."),
    "retry_after_seconds": int(ADDRESS_WINDOW.total_seconds()),
}


# --- website session tokens ----------------------------------------------------------------------


class TokenError(ValueError):
    """The token is refused; `reason` is a short machine word, str(error) a clear sentence."""

    reason = "invalid"


class TokenExpired(TokenError):
    reason = "expired"


class TokenBadSignature(TokenError):
    reason = "bad_signature"


class TokenWrongAudience(TokenError):
    reason = "wrong_audience"


class TokenMalformed(TokenError):
    reason = "malformed"


@dataclass(frozen=True)
class VerifiedToken:
    customer_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def secret_is_set(secret: str) -> bool:
    """False for an empty secret or one of .env.example's `change-me` placeholders."""
    return bool(secret) and not secret.startswith("change-me")


class SessionTokens:
    """Sign and check the website's session tokens: HS256, `sub` = customer id, `iat`, `exp`,
    `aud` = "chat", `iss` = "voltera-website". Only HS256 is accepted (no `none`, no key confusion)."""

    def __init__(self, secret: str, ttl: dt.timedelta = SESSION_TOKEN_TTL, audience: str = TOKEN_AUDIENCE,
                 issuer: str = TOKEN_ISSUER) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the session token secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 24`)")
        self._secret = secret
        self.ttl = ttl
        self.audience = audience
        self.issuer = issuer

    def issue(self, customer_id: str, now: dt.datetime) -> tuple[str, dt.datetime]:
        if not customer_id or len(customer_id) > CUSTOMER_ID_MAX:
            raise ValueError("a customer id is required")
        issued = now.replace(microsecond=0)
        expires = issued + self.ttl
        claims = {"sub": customer_id, "iat": int(issued.timestamp()), "exp": int(expires.timestamp()),
                  "aud": self.audience, "iss": self.issuer}
        return jwt.encode(claims, self._secret, algorithm=TOKEN_ALGORITHM), expires

    def verify(self, token: str, now: dt.datetime | None = None) -> VerifiedToken:
        """The verified token, or a `TokenError` saying why not. `now` is for tests (default: the clock)."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenMalformed("no session token was given, or it is not a token")
        options: Options = {"require": ["exp", "iat", "sub", "aud", "iss"]}
        try:
            if now is None:
                claims = jwt.decode(token, self._secret, algorithms=[TOKEN_ALGORITHM], audience=self.audience,
                                    issuer=self.issuer, leeway=CLOCK_SKEW_SECONDS, options=options)
            else:
                # PyJWT checks times against the system clock; with an explicit `now`, check them here.
                claims = jwt.decode(token, self._secret, algorithms=[TOKEN_ALGORITHM], audience=self.audience,
                                    issuer=self.issuer, options={**options, "verify_exp": False, "verify_iat": False,
                                                                 "verify_nbf": False})
                if not isinstance(claims.get("exp"), (int, float)) or now.timestamp() >= claims["exp"] + CLOCK_SKEW_SECONDS:
                    raise jwt.ExpiredSignatureError("Signature has expired")
                if not isinstance(claims.get("iat"), (int, float)) or claims["iat"] > now.timestamp() + CLOCK_SKEW_SECONDS:
                    raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
        except jwt.ExpiredSignatureError:
            raise TokenExpired("the session token has expired: log in on the website again") from None
        except jwt.InvalidSignatureError:
            raise TokenBadSignature("the session token's signature is not valid (forged, or signed with another secret)") from None
        except jwt.InvalidAudienceError:
            raise TokenWrongAudience(f"the session token is not meant for the {self.audience}") from None
        except jwt.InvalidIssuerError:
            raise TokenMalformed("the session token was not issued by the website") from None
        except jwt.ImmatureSignatureError:
            raise TokenMalformed("the session token is not valid yet (issued in the future)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenMalformed(f"the session token lacks the '{exc.claim}' claim") from None
        except jwt.InvalidAlgorithmError:
            raise TokenBadSignature(f"the session token is not signed with {TOKEN_ALGORITHM}") from None
        except jwt.InvalidTokenError as exc:
            raise TokenMalformed(f"the session token cannot be read ({type(exc).__name__})") from None
        customer_id = claims["sub"]
        if not isinstance(customer_id, str) or not customer_id or len(customer_id) > CUSTOMER_ID_MAX:
            raise TokenMalformed("the session token names no valid customer")
        utc = dt.UTC
        return VerifiedToken(customer_id, dt.datetime.fromtimestamp(claims["iat"], utc), dt.datetime.fromtimestamp(claims["exp"], utc))
