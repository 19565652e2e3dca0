"""A search on the store's site, with what it found and whether a result was followed."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from storeflows.events.common import MAX_SEARCH_RESULTS, MAX_TEXT_LENGTH, ExactId, StorefrontEvent


class SearchEvent(StorefrontEvent):
    type: Literal["search"]
    query: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]
    result_product_ids: list[ExactId] = Field(default=[], max_length=MAX_SEARCH_RESULTS)
    result_clicked: bool = False

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
