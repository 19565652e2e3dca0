"""What every canonical event is made of: customers, orders and their line items, and the
field types that check and normalise them, whichever source (our API, Shopify, WooCommerce)
an event came from.

Money is Decimal end to end: the ingest parses JSON with parse_float=Decimal, so a float
reaching these models means precision may already be lost and is refused. Ids are kept as
exact strings because Shopify ids exceed 2**53. Unknown fields are ignored everywhere so
vendors can add fields without breaking ingest."""

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

_MAX_EMAIL_LENGTH = 254
_MAX_LOCAL_PART_LENGTH = 64  # RFC 5321 section 4.5.3.1.1
# RFC 5322 dot-atom text: what a local part may hold unquoted (quoted ones are refused).
_LOCAL_PART_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_REPORTED_ERRORS = 10
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")
_COUNTRY_RE = re.compile(r"[A-Za-z]{2}")
_BIRTHDAY_RE = re.compile(r"(\d{4}|-)-\d{2}-\d{2}")
_CURRENCY_RE = re.compile(r"[A-Za-z]{3}")


# Limits that keep every accepted event storable and runnable (DynamoDB numbers hold 38
# significant digits up to about 1e126; keys and items have size limits) and refuse what no
# store sends. An event over them is answered 400 naming the field, never dead-lettered.
MAX_MONEY = Decimal(10) ** 12
MAX_MONEY_DECIMAL_PLACES = 6
MAX_QUANTITY = 1_000_000
MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 500
MAX_NAME_LENGTH = 200
MAX_LINE_ITEMS = 10_000


def _reject_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("must be a decimal string or number, not a float")
    return value


def _blank_to_none(value: Any) -> Any:
    """Vendors send "" for absent optional text; treat it (and whitespace) as absent."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _id_to_text(value: Any) -> Any:
    """An int id becomes its exact decimal text (bool is an int subclass but never an id)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _optional_id(value: Any) -> Any:
    return _blank_to_none(_id_to_text(value))


def _has_line_break_or_control(text: str) -> bool:
    """C0/C1 controls (CR, LF, TAB, NUL...) and Unicode line/paragraph separators: these
    must never reach an email header or template."""
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def _check_id(value: str | None) -> str | None:
    if value is not None and _has_line_break_or_control(value):
        raise ValueError("must not contain control characters or line breaks")
    if value is not None and len(value) > MAX_ID_LENGTH:
        raise ValueError(f"must be at most {MAX_ID_LENGTH} characters")
    return value


def _within(limit: int) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return AfterValidator(check)


def _check_money(value: Decimal) -> Decimal:
    """What a DynamoDB number can hold exactly, and any store's prices need."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError("must be a number")
    if -exponent > MAX_MONEY_DECIMAL_PLACES:
        raise ValueError(f"must have at most {MAX_MONEY_DECIMAL_PLACES} decimal places")
    return value


def _check_person_name(value: str | None) -> str | None:
    if value is not None and _has_line_break_or_control(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _normalise_email(value: str) -> str:
    """A deliberately small syntax check (no email-validator dependency): enough to refuse
    header-injection attempts and obvious garbage, and addresses SES cannot send to;
    deliverability is SES's job. An internationalised domain is kept as its punycode (the
    form SES and every mail server take); a local part that is not ASCII is refused, as
    SES offers no SMTPUTF8."""
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    looks_valid = (
        len(email) <= _MAX_EMAIL_LENGTH
        and at == "@"
        and bool(local)
        and "@" not in domain
        and "." in domain
        and all(domain.split("."))
        and all(ch.isprintable() and not ch.isspace() for ch in email)
    )
    if not looks_valid:
        raise ValueError("not a valid email address")
    if not local.isascii():
        raise ValueError("an address with non-ASCII characters before the @ cannot be sent to (SES has no SMTPUTF8)")
    if len(local) > _MAX_LOCAL_PART_LENGTH or not _LOCAL_PART_RE.fullmatch(local) or "=?" in local:
        raise ValueError("not a valid email address (the part before the @)")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("not a valid email address (its domain is not a valid internationalised name)") from None
    return f"{local}@{domain}"


def _normalise_language(value: str | None) -> str | None:
    if value is None:
        return None
    if not _LANGUAGE_RE.fullmatch(value):
        raise ValueError('not a language tag like "en" or "pl-PL"')
    return value.replace("_", "-")


def _normalise_country(value: str | None) -> str | None:
    if value is None:
        return None
    # Match before upper-casing: "ß".upper() is "SS".
    if not _COUNTRY_RE.fullmatch(value):
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return value.upper()


def _normalise_birthday(value: str | None) -> str | None:
    """YYYY-MM-DD, or --MM-DD without the year (ISO 8601's truncated form): a real day of the
    year (Feb 29 included), kept as given."""
    if value is None:
        return None
    if not isinstance(value, str) or not _BIRTHDAY_RE.fullmatch(value):
        raise ValueError("not a birthday like 1990-05-17 or --05-17")
    year = value[:4] if not value.startswith("--") else "2000"  # a leap year: --02-29 is a day
    try:
        date.fromisoformat(f"{year}-{value[-5:]}")
    except ValueError:
        raise ValueError("not a day of the year") from None
    return value


def _normalise_currency(value: str) -> str:
    currency = value.strip()
    if not _CURRENCY_RE.fullmatch(currency):
        raise ValueError("not an ISO 4217 currency code")
    return currency.upper()


def _assume_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    Field(ge=0, le=MAX_MONEY, allow_inf_nan=False),
    AfterValidator(_check_money),
]
ExactId = Annotated[str, BeforeValidator(_id_to_text), Field(min_length=1), AfterValidator(_check_id)]
OptionalId = Annotated[str | None, BeforeValidator(_optional_id), AfterValidator(_check_id)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none), _within(MAX_TEXT_LENGTH)]
PersonName = Annotated[
    str | None, BeforeValidator(_blank_to_none), _within(MAX_NAME_LENGTH), AfterValidator(_check_person_name)
]
Email = Annotated[str, AfterValidator(_normalise_email)]
Language = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_normalise_language)]
Country = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_normalise_country)]
Currency = Annotated[str, AfterValidator(_normalise_currency)]
Birthday = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_normalise_birthday)]


class ValueObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LineItem(ValueObject):
    sku: OptionalText = None
    name: OptionalText = None
    category: OptionalText = None
    product_id: OptionalId = None
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    price: Money | None = None


class Order(ValueObject):
    id: ExactId
    total: Money
    currency: Currency
    items: list[LineItem] = Field(default=[], max_length=MAX_LINE_ITEMS)
    # The checkout and cart the order came from, when the store says (Shopify does): the
    # purchase ends their abandonment runs at once (storeflows.abandonment).
    checkout_token: OptionalId = None
    cart_token: OptionalId = None


class Customer(ValueObject):
    email: Email
    first_name: PersonName = None
    last_name: PersonName = None
    language: Language = None
    country: Country = None
    accepts_marketing: bool | None = None
    birthday: Birthday = None

    @property
    def primary_language(self) -> str | None:
        """The primary subtag, lower-case: "pl-PL" -> "pl"."""
        if self.language is None:
            return None
        return self.language.split("-", 1)[0].lower()


OccurredAt = Annotated[datetime | None, AfterValidator(_assume_utc)]


class OrderReference(ValueObject):
    id: ExactId


def describe_validation_error(err: ValidationError) -> str:
    """One short line for an API error body: "dotted.path: message; ..." per failing field."""
    parts = []
    for error in err.errors()[:_MAX_REPORTED_ERRORS]:
        path = ".".join(str(part) for part in error["loc"])
        parts.append(f"{path}: {error['msg']}" if path else error["msg"])
    hidden = err.error_count() - _MAX_REPORTED_ERRORS
    if hidden > 0:
        parts.append(f"and {hidden} more")
    return "; ".join(parts)


# --- the storefront's events (storeflows.events.checkout, .cart, .product_view ...) -----------

MAX_URL_LENGTH = 2000
MAX_CART_ITEMS = 250
MAX_SEARCH_RESULTS = 50
_VISITOR_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _check_url(value: str | None) -> str | None:
    """An absolute http(s) URL without spaces or controls: it ends up in an email's link."""
    if value is None:
        return None
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or "/" == rest[:1]:
        raise ValueError("must be an absolute http or https URL")
    if any(ch.isspace() for ch in value) or _has_line_break_or_control(value) or any(ch in value for ch in '"<>\\'):
        raise ValueError("must not contain spaces, quotes, angle brackets or control characters")
    return value


def _check_visitor_id(value: str | None) -> str | None:
    if value is not None and not _VISITOR_ID_RE.fullmatch(value):
        raise ValueError("must be 8 to 64 letters, digits, _ or -")
    return value


Url = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_check_url)]
VisitorId = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_check_visitor_id)]
GivenVisitorId = Annotated[str, AfterValidator(_check_visitor_id)]
Token = Annotated[str, BeforeValidator(_id_to_text), Field(min_length=1), AfterValidator(_check_id)]


class Product(ValueObject):
    """A product as the storefront shows it: what a message links to and pictures."""

    product_id: OptionalId = None
    variant_id: OptionalId = None
    sku: OptionalText = None
    name: OptionalText = None
    category: OptionalText = None
    price: Money | None = None
    currency: Annotated[str | None, BeforeValidator(_blank_to_none)] = None
    url: Url = None
    image_url: Url = None

    @property
    def identity(self) -> str | None:
        """What tells two views of one product apart from two products: its id, else SKU, else URL."""
        return self.product_id or self.sku or self.url


class CartItem(Product):
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class StorefrontEvent(ValueObject):
    """An event of someone on the store's site: named by `customer.email` when known, else by
    the anonymous `visitor_id` the browser snippet keeps (storeflows.storefront
    attaches a visitor's events to the contact once the visitor is identified)."""

    occurred_at: OccurredAt = None
    customer: Customer | None = None
    visitor_id: VisitorId = None

    @model_validator(mode="after")
    def _names_someone(self) -> "StorefrontEvent":
        if self.customer is None and self.visitor_id is None:
            raise ValueError("names nobody: give customer.email or visitor_id")
        return self

    def run_subject(self, event_id: str) -> None:
        """Runs about the storefront are started by the dispatcher once it knows the contact
        and its session, cart or checkout (storeflows.dispatch), never from the event alone."""
        return None
