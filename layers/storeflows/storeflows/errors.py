"""Domain errors. The HTTP layer maps each to a status code in one place; nothing
matches on message text."""


class StoreflowsError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, detail: str = ""):
        super().__init__(detail)
        self.detail = detail
        # Headers the answer carries beside the status (a browser route's CORS headers, a
        # Retry-After): set by the domain that knows them, sent by storeflows.http.
        self.answer_headers: dict[str, str] = {}


class UnknownStore(StoreflowsError):
    """The store id in the URL has no store record."""


class InvalidSignature(StoreflowsError):
    """A webhook or link signature is missing, malformed, stale or wrong."""


class InvalidPayload(StoreflowsError):
    """The body is not JSON, or lacks a required field, or a field is malformed."""


class PayloadTooLarge(StoreflowsError):
    """The body exceeds the documented size limit."""


class UnsupportedMediaType(StoreflowsError):
    """The body is not declared as JSON."""


class MessageRenderError(StoreflowsError):
    """A message template failed to render (undefined variable, sandbox refusal, syntax).
    Retrying cannot fix it, so workflows treat it as unrecoverable."""


class UnknownMessage(StoreflowsError):
    """A workflow refers to a message id that the store does not have."""


class UnknownSender(StoreflowsError):
    """A message names a sender profile that the store does not have. A configuration
    error: the send fails (and the run with it) rather than going out from someone else."""


class SendThrottled(StoreflowsError):
    """SES refused the send for rate reasons; the workflow retries with backoff."""


class SendInProgress(StoreflowsError):
    """Another attempt of the same send step holds its claim and may still be sending; the
    workflow retries shortly, and the retry answers with that attempt's decision."""


class OriginNotAllowed(StoreflowsError):
    """A browser request (POST /collect) from a page whose origin the store has not allowed."""


class InvalidPublicKey(StoreflowsError):
    """A browser request names a public key that is not the store's."""


class ConsentRequired(StoreflowsError):
    """The store requires the visitor's consent before tracking, and the request does not say
    it was given."""


class TooManyRequests(StoreflowsError):
    """One visitor sent more events than the per-minute cap allows; `retry_after` seconds
    until the next window."""

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
