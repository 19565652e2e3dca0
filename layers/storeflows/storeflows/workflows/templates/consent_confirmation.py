"""Consent-based purchase confirmation (seed 000): EU customers are split by marketing consent."""

from __future__ import annotations

from typing import ClassVar, Literal

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
    trigger: PurchaseTrigger = PurchaseTrigger()
    # Treat Iceland, Liechtenstein and Norway (the EEA beyond the EU) like the EU.
    include_eea: bool = False
    eu_consented_message: MessageId
    eu_without_consent_message: MessageId
    outside_eu_message: MessageId
