"""The registry of workflow templates: one line per template module.

`WorkflowSettings` is their union on `template` (as Dittofeed's JourneyDefinition), so each
template validates exactly the settings it uses."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from storeflows.workflows.templates.abandonment import CartAbandonmentSettings, CheckoutAbandonmentSettings
from storeflows.workflows.templates.anniversary import AnniversarySettings
from storeflows.workflows.templates.back_in_stock import BackInStockSettings
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.birthday import BirthdaySettings
from storeflows.workflows.templates.browse_abandonment import BrowseAbandonmentSettings
from storeflows.workflows.templates.care_series import CareSeriesSettings
from storeflows.workflows.templates.consent_confirmation import ConsentConfirmationSettings
from storeflows.workflows.templates.low_stock import LowStockSettings
from storeflows.workflows.templates.order_value import OrderValueSettings
from storeflows.workflows.templates.price_drop import PriceDropSettings
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings
from storeflows.workflows.templates.replenishment import ReplenishmentSettings
from storeflows.workflows.templates.review_request import ReviewRequestSettings
from storeflows.workflows.templates.search_abandonment import SearchAbandonmentSettings
from storeflows.workflows.templates.site_abandonment import SiteAbandonmentSettings
from storeflows.workflows.templates.sunset import SunsetSettings
from storeflows.workflows.templates.targeted_post_purchase import TargetedPostPurchaseSettings
from storeflows.workflows.templates.thank_you_upsell import ThankYouUpsellSettings
from storeflows.workflows.templates.usage_tips import UsageTipsSettings
from storeflows.workflows.templates.vip import VipSettings
from storeflows.workflows.templates.welcome_series import WelcomeSeriesSettings
from storeflows.workflows.templates.win_back import WinBackSettings
from storeflows.workflows.templates.wishlist_reminder import WishlistReminderSettings
from storeflows.workflows.triggers import trigger_classes

WorkflowSettings = Annotated[
    (
        TargetedPostPurchaseSettings
        | ConsentConfirmationSettings
        | PurchaseFollowUpSettings
        | OrderValueSettings
        | CareSeriesSettings
        | CheckoutAbandonmentSettings
        | CartAbandonmentSettings
        | BrowseAbandonmentSettings
        | SiteAbandonmentSettings
        | SearchAbandonmentSettings
        | WelcomeSeriesSettings
        | WishlistReminderSettings
        | WinBackSettings
        | ReviewRequestSettings
        | VipSettings
        | UsageTipsSettings
        | BirthdaySettings
        | AnniversarySettings
        | ThankYouUpsellSettings
        | ReplenishmentSettings
        | BackInStockSettings
        | PriceDropSettings
        | LowStockSettings
        | SunsetSettings
    ),
    Field(discriminator="template"),
]

# Template name -> settings class, in the order above.
TEMPLATES: dict[str, type[TemplateSettings]] = {
    cls.model_fields["template"].default: cls for cls in get_args(get_args(WorkflowSettings)[0])
}

# The event types that can start a run of some template: the dispatcher reads the store's
# workflows only for these (a consent or delivered event starts nothing today).
EVENTS_STARTING_RUNS: frozenset[str] = frozenset().union(
    *(
        trigger.starts_on  # type: ignore[attr-defined]
        for cls in TEMPLATES.values()
        for trigger in trigger_classes(cls.model_fields["trigger"].annotation)
    )
)
