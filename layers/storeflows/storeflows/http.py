"""Domain errors to HTTP answers, in one place for every API function."""

from __future__ import annotations

import base64
import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from storeflows.errors import (
    ConsentRequired,
    InvalidPayload,
    InvalidPublicKey,
    InvalidSignature,
    OriginNotAllowed,
    PayloadTooLarge,
    StoreflowsError,
    TooManyRequests,
    UnknownStore,
    UnsupportedMediaType,
)
from storeflows.observability import count_by, logger

_STATUS = {
    InvalidPayload: (400, "invalid_payload"),
    InvalidSignature: (401, "invalid_signature"),
    UnknownStore: (404, "unknown_store"),
    PayloadTooLarge: (413, "payload_too_large"),
    UnsupportedMediaType: (415, "unsupported_media_type"),
    OriginNotAllowed: (403, "origin_not_allowed"),
    InvalidPublicKey: (403, "invalid_key"),
    ConsentRequired: (403, "consent_required"),
    TooManyRequests: (429, "rate_limited"),
}


def json_response(status_code: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status_code, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers
    )


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    """The body exactly as the sender signed it."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def install_error_handlers(app: APIGatewayHttpResolver, *, refused_metric: str | None = None) -> None:
    """Domain errors become their 4xx answer; `refused_metric` counts each by reason (the
    error code)."""

    @app.exception_handler(StoreflowsError)
    def request_refused(error: StoreflowsError) -> Response:
        status_code, code = next(
            (answer for kind, answer in _STATUS.items() if isinstance(error, kind)), (500, "internal_error")
        )
        if status_code == 500:
            # Not a request problem: let it surface as a failure the store will retry.
            raise error
        logger.info(
            "request refused", extra={"status_code": status_code, "error": code, "path": app.current_event.path}
        )
        if refused_metric:
            count_by(refused_metric, "reason", code)
        return json_response(status_code, {"error": code, "detail": error.detail}, error.answer_headers or None)
