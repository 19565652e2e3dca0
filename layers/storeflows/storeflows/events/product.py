"""A product of the store's catalogue as it is now (the event API's `product`, Shopify's
products/create and products/update, WooCommerce's product.created and product.updated):
upserted whole into the catalogue (storeflows.storage.products). The product and its
variants are defined here, with the event that carries them, and are the catalogue's
(storeflows.catalogue: what it means, and the changes the flows start from)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from storeflows.events.common import (
    MAX_QUANTITY,
    MAX_TEXT_LENGTH,
    ExactId,
    Money,
    OccurredAt,
    OptionalId,
    OptionalText,
    Url,
    ValueObject,
    _blank_to_none,
    _normalise_currency,
)

MAX_VARIANTS = 250  # Shopify's own limit was 100 for years; a product item stays far under 400 KB
MAX_RELATED = 50
MAX_LOCATIONS = 100
MAX_USAGE_CYCLE_DAYS = 3650

ProductName = Annotated[str, BeforeValidator(_blank_to_none), Field(min_length=1, max_length=MAX_TEXT_LENGTH)]
OptionalCurrency = Annotated[
    str | None, BeforeValidator(_blank_to_none), AfterValidator(lambda v: v if v is None else _normalise_currency(v))
]
# Shopify lets stock go below zero (orders taken past zero with "continue selling").
Quantity = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]


class CatalogueVariant(ValueObject):
    variant_id: ExactId
    sku: OptionalText = None
    title: OptionalText = None
    price: Money
    compare_at_price: Money | None = None
    # None: the store does not track this variant's stock.
    inventory_quantity: Quantity | None = None
    available: bool = True
    image_url: Url = None  # the variant's own picture, over the product's
    # Shopify: what inventory_levels/update names the variant by, and its level per location.
    inventory_item_id: OptionalId = None
    inventory_levels: dict[str, Quantity] = Field(default={}, max_length=MAX_LOCATIONS)
    sells_when_out_of_stock: bool = False
    # False: the source said nothing about stock (an event API `product` without
    # inventory_quantity, a CSV row with the cell empty): the known stock is kept.
    stock_carried: bool = True

    @model_validator(mode="before")
    @classmethod
    def _stock_not_given(cls, data: Any) -> Any:
        """A variant naming no inventory_quantity at all carries no stock (an explicit null
        says the stock is not tracked)."""
        if isinstance(data, dict) and "inventory_quantity" not in data and "stock_carried" not in data:
            return {**data, "stock_carried": False}
        return data

    def settled(self, quantity: int | None, levels: dict[str, int]) -> CatalogueVariant:
        """This variant with its stock, and the availability that stock gives."""
        available = self.available if quantity is None else quantity > 0 or self.sells_when_out_of_stock
        return self.model_copy(
            update={
                "inventory_quantity": quantity,
                "inventory_levels": dict(sorted(levels.items())),
                "available": available,
                "stock_carried": True,
            }
        )


class CatalogueProduct(ValueObject):
    product_id: ExactId
    name: ProductName
    url: Url = None
    image_url: Url = None
    currency: OptionalCurrency = None  # WooCommerce's product webhooks name none
    category: OptionalText = None
    usage_cycle_days: int | None = Field(default=None, ge=1, le=MAX_USAGE_CYCLE_DAYS)
    related: list[ExactId] = Field(default=[], max_length=MAX_RELATED)
    variants: list[CatalogueVariant] = Field(min_length=1, max_length=MAX_VARIANTS)
    updated_at: OccurredAt = None

    @model_validator(mode="after")
    def _variants_distinct(self) -> CatalogueProduct:
        ids = [variant.variant_id for variant in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variants: two variants have the same variant_id")
        return self

    def variant(self, variant_id: str) -> CatalogueVariant | None:
        return next((variant for variant in self.variants if variant.variant_id == variant_id), None)


class ProductEvent(ValueObject):
    type: Literal["product"]
    occurred_at: OccurredAt = None
    product: CatalogueProduct

    accepted_by_api: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> None:
        """The flows started by a product's changes (back in stock, price drop) start from the
        catalogue's changes, not from the event."""
        return None
