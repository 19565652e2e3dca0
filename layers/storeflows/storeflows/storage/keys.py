"""Every DynamoDB key Storeflows uses, in one place (single-table design).

    pk                              sk                                   item
    STORE#<store>                   STORE                                store: platform secrets, unsubscribe key
    STORE#<store>                   WORKFLOW#<workflow>                  workflow: template, status, settings (live)
    STORE#<store>                   WORKFLOWDRAFT#<workflow>             the draft next to a published or paused one
    STORE#<store>                   MESSAGE#<message>                    message: purpose, sender, language variants
    STORE#<store>                   SENDER#<sender>                      sender profile: name, from, reply-to
    CONTACT#<store>#<email>         PROFILE                              contact profile: tags, score, consent, totals
    CONTACT#<store>#<email>         ORDER#<order>                        purchase history, one item per order
    CONTACT#<store>#<email>         SEND#<workflow>#<subject>#<step>     send decision (sending, sent, skipped + why)
    CONTACT#<store>#<email>         ACTIVE#<workflow>#<subject>          the contact is inside this run right now
    CONTACT#<store>#<email>         CAP#<workflow>                       last send, for "not more often than"
    EMAIL#<ses message id>          EMAIL                                one email's engagement (no address; expires)
    REPORT#<store>                  DAY#<sent on>#<workflow>#<message>   report counters of the emails sent that day
    SALES#<store>#<yyyy-mm-dd>      PRODUCT#<sku>                        units sold that day (best sellers)
    STORE#<store>                   COUPONPOOL#<pool>                    coupon pool: size, claimed, low-stock threshold
    COUPONPOOL#<store>#<pool>       CODE#<index, 9 digits>               one dynamic coupon code, in import order
    COUPONCLAIM#<store>#<pool>      CLAIM#<sha256 of the claim key>      which code one send got (a retry gets it again)
    CONTACT#<store>#<email>         CONSENT#<stated at>#<source>         consent history: every statement received
    SUPPRESSION#<store>             ADDRESS#<sha256 of the email>        what an erasure kept (no address)
    STORE#<store>                   DATAREQUEST#<request>                a data request to answer (Shopify)
    VISITOR#<store>#<visitor>       VISITOR | EVENT#<at>#<event>         an anonymous visitor (storage.visitors)
    CONTACT#<store>#<email>         VISITOR#<visitor>                    a visitor identified as the contact
    CONTACTLINK#<store>#<ref>       CONTACTLINK                          whom an email link's contact token names
    CONTACT#<store>#<email>         CONTACTLINK#<ref>                    the link back, so an erasure finds it
    COLLECT#<store>#<visitor>       MINUTE#<yyyy-mm-ddThh:mm>            events one visitor sent that minute (expires)
    CONTACT#<store>#<email>         CHECKOUT#<token> | CART#<token>      a checkout or cart (storage.abandonment)
    CONTACT#<store>#<email>         COOLDOWN#abandonment                 the last abandonment reminder's subject
    CARTTOKEN#<store>#<token>       LINK | EVENT#<at>#<event>            a cart token's visitor (storage.abandonment)
    CONTACT#<store>#<email>         SESSION                              the contact's current site session
    CONTACT#<store>#<email>         VIEWED#<product>                     a product the contact viewed, when last
    PRODUCT#<store>#<product>       PRODUCT                              a product as the storefront last showed it
    CONTACT#<store>#<email>         SIGNUP                               the address's latest sign-up confirmation sent
    SIGNUPREQUEST#<store>#<id>      SIGNUPREQUEST                        a sign-up waiting for confirmation (expires)
    CONTACT#<store>#<email>         WELCOMED#<workflow>                  the contact's welcome series (one per contact)
    CONTACT#<store>#<email>         WISHLIST                             the wishlist, and the reminder run holding it
    CONTACT#<store>#<email>         INTEREST#<kind>#<product>#<variant>  viewed, carted... when, at what price (expires)
      index "lookup": lookup_pk INTEREST#<store>#<product>, lookup_sk <kind>#<at>#<email>
    CATALOGUE#<store>               PRODUCT#<product>                    a catalogue product and its variants (version)
    CATALOGUE#<store>               VARIANT#<variant> | SKU#<sku>        which product holds the variant, the SKU
    CATALOGUE#<store>               INVENTORYITEM#<item>                 a Shopify inventory item: its variant, levels
    DATES#<store>#<occasion>#<mm-dd> CONTACT#<email>                     a contact's birthday that day (storage.dates)
    STORE#<store>                   WORKFLOW#<workflow> (scheduled)      index "lookup": SCHEDULED, <store>#<workflow>
    SILENT#<store>#<yyyy-mm-dd>     CONTACT#<email>                      silent since that day (storage.silence)
    PACER#ses                       PACER                                the next free SES send slot (storage.pacer)
    BOUGHTWITH#<store>#<product>    BOUGHTWITH                           how often each product was bought with it
    REPEATS#<store>#<sku>           REPEATS                              days per unit between a contact's repeat buys

Contacts get a partition each, so one busy store never concentrates on one partition, and a
contact's whole history is one Query. Nothing outside this module builds a key.

<subject> is a run's subject key (storeflows.events.subjects): for an order, its bare id, as these
keys had it before runs had subjects. Every item of a contact that names a run carries the
subject key in its `subject` attribute (older SEND# and ACTIVE# items: `order_id`), and
ORDER# items are their order's subject (and, through their lines, of its replenishment
reminders, `reorder:<order>:<sku>`): that is how an erasure finds the runs to stop."""

from __future__ import annotations

import hashlib

STORE_SK = "STORE"
PROFILE_SK = "PROFILE"
WORKFLOW_PREFIX = "WORKFLOW#"
# Not under WORKFLOW_PREFIX: the dispatcher's one Query of a store's workflows never sees drafts.
WORKFLOW_DRAFT_PREFIX = "WORKFLOWDRAFT#"
MESSAGE_PREFIX = "MESSAGE#"
SENDER_PREFIX = "SENDER#"
ORDER_PREFIX = "ORDER#"
SEND_PREFIX = "SEND#"
ACTIVE_PREFIX = "ACTIVE#"
CONSENT_PREFIX = "CONSENT#"
DATA_REQUEST_PREFIX = "DATAREQUEST#"
VISITOR_PREFIX = "VISITOR#"
SESSION_SK = "SESSION"
VIEWED_PREFIX = "VIEWED#"
SIGNUP_SK = "SIGNUP"
SIGNUP_REQUEST_SK = "SIGNUPREQUEST"
EXPIRES_AT = "expires_at"  # the table's TTL attribute


def store_pk(store_id: str) -> str:
    return f"STORE#{store_id}"


def store_key(store_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": STORE_SK}


def workflow_key(store_id: str, workflow_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": f"{WORKFLOW_PREFIX}{workflow_id}"}


def workflow_draft_key(store_id: str, workflow_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": f"{WORKFLOW_DRAFT_PREFIX}{workflow_id}"}


def message_key(store_id: str, message_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": f"{MESSAGE_PREFIX}{message_id}"}


def sender_key(store_id: str, sender_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": f"{SENDER_PREFIX}{sender_id}"}


# The table's one global secondary index, overloaded (CloudFormation adds at most one index
# to a table per stack update, so a second one would make an upgrade fail): items that some
# read must find by something other than their key carry `lookup_pk`/`lookup_sk`; only they
# are in it (sparse). A product's interested contacts: INTEREST#<store>#<product>, by
# <kind>#<at>#<email>; the workflows the schedule starts: SCHEDULED, by <store>#<workflow>.
LOOKUP_INDEX = "lookup"
LOOKUP_PK, LOOKUP_SK = "lookup_pk", "lookup_sk"


def contact_pk(store_id: str, email: str) -> str:
    return f"CONTACT#{store_id}#{email}"


def contact_key(store_id: str, email: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": PROFILE_SK}


def order_key(store_id: str, email: str, order_id: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"{ORDER_PREFIX}{order_id}"}


def send_log_key(store_id: str, email: str, workflow_id: str, subject_key: str, step: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"{SEND_PREFIX}{workflow_id}#{subject_key}#{step}"}


def active_run_key(store_id: str, email: str, workflow_id: str, subject_key: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"{ACTIVE_PREFIX}{workflow_id}#{subject_key}"}


def session_key(store_id: str, email: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": SESSION_SK}


def viewed_product_key(store_id: str, email: str, product: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"{VIEWED_PREFIX}{product}"}


def catalogue_product_key(store_id: str, product_id: str) -> dict[str, str]:
    return {"pk": f"PRODUCT#{store_id}#{product_id}", "sk": "PRODUCT"}


def frequency_cap_key(store_id: str, email: str, workflow_id: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"CAP#{workflow_id}"}


def checkout_key(store_id: str, email: str, token: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"CHECKOUT#{token}"}


def cart_key(store_id: str, email: str, token: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"CART#{token}"}


def abandonment_cooldown_key(store_id: str, email: str) -> dict[str, str]:
    """One per contact, shared by checkout and cart abandonment: who got the last reminder."""
    return {"pk": contact_pk(store_id, email), "sk": "COOLDOWN#abandonment"}


def cart_token_pk(store_id: str, token: str) -> str:
    return f"CARTTOKEN#{store_id}#{token}"


def consent_statement_key(store_id: str, email: str, stated_at: str, source: str) -> dict[str, str]:
    """One consent statement: the same statement delivered twice has the same key."""
    return {"pk": contact_pk(store_id, email), "sk": f"{CONSENT_PREFIX}{stated_at}#{source}"}


def item_kind(sk: str) -> str:
    """What a contact's item is, from its sort key: "ORDER#1001" -> "order", "PROFILE" -> "profile"."""
    return sk.split("#", 1)[0].lower()


def email_digest(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8")).hexdigest()


def suppression_key(store_id: str, email: str) -> dict[str, str]:
    """An erased address's suppression record: keyed by a hash, so it holds no address."""
    return {"pk": f"SUPPRESSION#{store_id}", "sk": f"ADDRESS#{email_digest(email)}"}


def data_request_key(store_id: str, request_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": f"{DATA_REQUEST_PREFIX}{request_id}"}


def sales_pk(store_id: str, day: str) -> str:
    return f"SALES#{store_id}#{day}"


def sales_key(store_id: str, day: str, sku: str) -> dict[str, str]:
    return {"pk": sales_pk(store_id, day), "sk": f"PRODUCT#{sku}"}


def email_tracking_key(ses_message_id: str) -> dict[str, str]:
    """One sent email's engagement flags (delivered, opened, clicked...): which SES events
    were counted already. It holds ids only, never the address, so it lives outside the
    contact's partition."""
    return {"pk": f"EMAIL#{ses_message_id}", "sk": "EMAIL"}


REPORT_DAY_PREFIX = "DAY#"


def report_pk(store_id: str) -> str:
    return f"REPORT#{store_id}"


def report_key(store_id: str, sent_on: str, workflow_id: str, message_id: str) -> dict[str, str]:
    """Counters of one message of one workflow, for the emails sent on one day (yyyy-mm-dd)."""
    return {"pk": report_pk(store_id), "sk": f"{REPORT_DAY_PREFIX}{sent_on}#{workflow_id}#{message_id}"}


def report_range(first_day: str, last_day: str) -> tuple[str, str]:
    """Sort keys bounding every report item from first_day to last_day, both included:
    "$" sorts right after the "#" that follows the day."""
    return f"{REPORT_DAY_PREFIX}{first_day}", f"{REPORT_DAY_PREFIX}{last_day}$"


def as_attribute_values(key: dict[str, str]) -> dict[str, dict[str, str]]:
    """A key in DynamoDB's wire format, for state machines that call DynamoDB directly:
    the dispatcher hands them ready keys so the ASL never assembles one itself."""
    return {name: {"S": value} for name, value in key.items()}


# --- coupons (storeflows.messaging.coupons) ------------------------------------------------------------

COUPON_POOL_PREFIX = "COUPONPOOL#"
COUPON_CODE_PREFIX = "CODE#"
COUPON_CLAIM_PREFIX = "CLAIM#"
COUPON_INDEX_DIGITS = 9  # CODE#000000000 .. CODE#999999999, so sort keys sort by index


def coupon_pool_key(store_id: str, pool_id: str) -> dict[str, str]:
    return {"pk": store_pk(store_id), "sk": f"{COUPON_POOL_PREFIX}{pool_id}"}


def coupon_codes_pk(store_id: str, pool_id: str) -> str:
    return f"{COUPON_POOL_PREFIX}{store_id}#{pool_id}"


def coupon_code_sk(index: int) -> str:
    if not 0 <= index < 10**COUPON_INDEX_DIGITS:
        raise ValueError(f"coupon code index {index} out of range")
    return f"{COUPON_CODE_PREFIX}{index:0{COUPON_INDEX_DIGITS}d}"


def coupon_code_key(store_id: str, pool_id: str, index: int) -> dict[str, str]:
    return {"pk": coupon_codes_pk(store_id, pool_id), "sk": coupon_code_sk(index)}


def coupon_claims_pk(store_id: str, pool_id: str) -> str:
    return f"COUPONCLAIM#{store_id}#{pool_id}"


def coupon_claim_key(store_id: str, pool_id: str, claim_key: str) -> dict[str, str]:
    """The claim key names one send (workflow, subject, step, email); it is hashed so the pool's
    claim partition holds no email address (erasing a contact stays one partition)."""
    digest = hashlib.sha256(claim_key.encode("utf-8")).hexdigest()
    return {"pk": coupon_claims_pk(store_id, pool_id), "sk": f"{COUPON_CLAIM_PREFIX}{digest}"}


# --- the browser's POST /collect (storeflows.intake.browser, storage.browser) ----------------------

CONTACT_LINK_PREFIX = "CONTACTLINK#"


def contact_link_key(store_id: str, ref: str) -> dict[str, str]:
    """Whom the opaque `ref` of an email link's contact token names (messaging.contact_links)."""
    return {"pk": f"{CONTACT_LINK_PREFIX}{store_id}#{ref}", "sk": "CONTACTLINK"}


def contact_link_backref_key(store_id: str, email: str, ref: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"{CONTACT_LINK_PREFIX}{ref}"}


def collect_counter_key(store_id: str, visitor_id: str, minute: str) -> dict[str, str]:
    """How many events one visitor sent in one minute (yyyy-mm-ddThh:mm, UTC)."""
    return {"pk": f"COLLECT#{store_id}#{visitor_id}", "sk": f"MINUTE#{minute}"}


# --- sign-ups (storeflows.signups) and the welcome series ----------------------------------------


def signup_key(store_id: str, email: str) -> dict[str, str]:
    """The address's latest confirmation email (when, which request): in the contact's
    partition, so an erasure deletes it with the rest."""
    return {"pk": contact_pk(store_id, email), "sk": SIGNUP_SK}


def signup_request_key(store_id: str, request_id: str) -> dict[str, str]:
    """A sign-up waiting for confirmation, under the opaque id its link carries (the link
    never holds the address)."""
    return {"pk": f"SIGNUPREQUEST#{store_id}#{request_id}", "sk": SIGNUP_REQUEST_SK}


def welcome_key(store_id: str, email: str, workflow_id: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": f"WELCOMED#{workflow_id}"}


def vip_key(store_id: str, email: str, workflow_id: str) -> dict[str, str]:
    """The contact became a VIP of this workflow (once ever: the vip run writes it only if absent)."""
    return {"pk": contact_pk(store_id, email), "sk": f"VIP#{workflow_id}"}


def repeat_intervals_key(store_id: str) -> dict[str, str]:
    """The store's days between a customer's consecutive orders, counted per day (win_back's median)."""
    return {"pk": store_pk(store_id), "sk": "REPEATINTERVALS"}


def wishlist_key(store_id: str, email: str) -> dict[str, str]:
    return {"pk": contact_pk(store_id, email), "sk": "WISHLIST"}


# --- interest in products (storage.interest) ------------------------------------------------------

INTEREST_PREFIX = "INTEREST#"


def interest_key(store_id: str, email: str, kind: str, product_id: str, variant_id: str | None) -> dict[str, str]:
    """One per (product or variant, contact, kind): in the contact's partition, so an erasure
    and a data export find it with the rest."""
    return {"pk": contact_pk(store_id, email), "sk": f"{INTEREST_PREFIX}{kind}#{product_id}#{variant_id or ''}"}


def interest_index_key(store_id: str, email: str, kind: str, product_id: str, at: str) -> dict[str, str]:
    """Where the item sits in the interest index: the product's partition, its kind's contacts
    oldest first (`at` is the item's time: the latest view, the first request)."""
    return {LOOKUP_PK: f"{INTEREST_PREFIX}{store_id}#{product_id}", LOOKUP_SK: f"{kind}#{at}#{email}"}


def interest_index_range(kind: str, since: str) -> tuple[str, str]:
    """Index sort keys bounding a kind's items from `since` on ("$" sorts right after "#")."""
    return f"{kind}#{since}", f"{kind}$"


# --- the product catalogue (storage.products) ------------------------------------------------------
# One partition per store: the catalogue is listed in one Query, and it holds no personal data.

CATALOGUE_PRODUCT_PREFIX = "PRODUCT#"


def catalogue_pk(store_id: str) -> str:
    return f"CATALOGUE#{store_id}"


def catalogue_entry_key(store_id: str, product_id: str) -> dict[str, str]:
    return {"pk": catalogue_pk(store_id), "sk": f"{CATALOGUE_PRODUCT_PREFIX}{product_id}"}


def catalogue_variant_key(store_id: str, variant_id: str) -> dict[str, str]:
    return {"pk": catalogue_pk(store_id), "sk": f"VARIANT#{variant_id}"}


def catalogue_sku_key(store_id: str, sku: str) -> dict[str, str]:
    return {"pk": catalogue_pk(store_id), "sk": f"SKU#{sku}"}


def inventory_item_key(store_id: str, inventory_item_id: str) -> dict[str, str]:
    return {"pk": catalogue_pk(store_id), "sk": f"INVENTORYITEM#{inventory_item_id}"}


# --- dates (storage.dates) and the schedule ---------------------------------------------------------

DATES_CONTACT_PREFIX = "CONTACT#"
# The live WORKFLOW# item of a template started by the schedule is in the lookup index under
# this partition: the schedule finds every store's such workflows with one Query.
SCHEDULED_WORKFLOWS = "SCHEDULED"


def scheduled_workflow_index_key(store_id: str, workflow_id: str) -> dict[str, str]:
    return {LOOKUP_PK: SCHEDULED_WORKFLOWS, LOOKUP_SK: f"{store_id}#{workflow_id}"}


def dates_pk(store_id: str, occasion: str, month_day: str) -> str:
    return f"DATES#{store_id}#{occasion}#{month_day}"


def dates_key(store_id: str, occasion: str, month_day: str, email: str) -> dict[str, str]:
    return {"pk": dates_pk(store_id, occasion, month_day), "sk": f"{DATES_CONTACT_PREFIX}{email}"}


def silence_pk(store_id: str, day: str) -> str:
    return f"SILENT#{store_id}#{day}"


def silence_key(store_id: str, day: str, email: str) -> dict[str, str]:
    return {"pk": silence_pk(store_id, day), "sk": f"{DATES_CONTACT_PREFIX}{email}"}


# --- sending at SES's pace (storage.pacer) -----------------------------------------------------------


def ses_pacer_key() -> dict[str, str]:
    """The stack's one SES pacer: every send of every store reserves its slot here, because
    SES's send rate is the account's, not a store's (a hot key by design: README "Sending at
    SES's pace")."""
    return {"pk": "PACER#ses", "sk": "PACER"}


# --- purchase statistics (storage.purchase_stats): counts only, no contact or order ---------------


def bought_with_key(store_id: str, product_id: str) -> dict[str, str]:
    return {"pk": f"BOUGHTWITH#{store_id}#{product_id}", "sk": "BOUGHTWITH"}


def sku_repeat_intervals_key(store_id: str, sku: str) -> dict[str, str]:
    return {"pk": f"REPEATS#{store_id}#{sku}", "sk": "REPEATS"}
