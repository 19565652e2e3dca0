"""Someone asked to be told when a sold-out product is back ("notify me"): the back-in-stock
flow's audience, first come first told (storeflows.interest). From the store's signed API
it is the store's word; from the browser only the address the visitor typed, so
storeflows.interest caps what an unproven address may collect."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import model_validator

from storeflows.events.common import Customer, Product, StorefrontEvent


class BackInStockRequestedEvent(StorefrontEvent):
    type: Literal["back_in_stock_requested"]
    customer: Customer  # whom to tell (a visitor alone cannot ask)
    product: Product

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True

    @model_validator(mode="after")
    def _names_the_product(self) -> BackInStockRequestedEvent:
        # A restock is detected per catalogue product and variant: a SKU or URL alone is
        # never restocked.
        if self.product.product_id is None:
            raise ValueError("product.product_id: required (the catalogue's id of the sold-out product)")
        return self
