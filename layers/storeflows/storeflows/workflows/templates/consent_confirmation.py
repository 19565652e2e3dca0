"""Consent-based purchase confirmation (seed 000): EU customers are split by marketing consent."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.fields import MessageId
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class ConsentConfirmationSettings(TemplateSettings):
    description: ClassVar[str] = (
        "EU customers are split by marketing consent, so one without consent gets a purely transactional "
        "confirmation; customers outside the EU get theirs."
    )
    transactional_only: ClassVar[dict[str, str]] = {
        "eu_without_consent_message": "customers without marketing consent would get nothing",
    }

    template: Literal["consent_confirmation"] = "consent_confirmation"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start a run: with `skus` or `categories`, only orders containing one of them.",
    )
    include_eea: bool = Field(
        default=False, description="Treat Iceland, Liechtenstein and Norway (the EEA beyond the EU) like the EU."
    )
    eu_consented_message: MessageId = Field(description="Sent to EU customers with marketing consent.")
    eu_without_consent_message: MessageId = Field(description="Sent to EU customers without marketing consent.")
    outside_eu_message: MessageId = Field(description="Sent to customers outside the EU.")
