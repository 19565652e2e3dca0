"""A contact's time zone: their country's, else the store's.

A country with one zone has it. A country with several (the US, Russia, Brazil...) takes the
store's zone when the store is in that country (a Texan shop's American customers are more
likely in its zone than in New York's), else the country's most populous zone. Without a
country, the store's zone (records.Store.timezone). The table: storeflows.country_zones."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storeflows.country_zones import COUNTRY_ZONES


def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def contact_zone(country: str | None, store_zone: str) -> str:
    """The IANA zone of a contact in `country` (ISO 3166-1 alpha-2) of a store in `store_zone`."""
    zones = COUNTRY_ZONES.get((country or "").upper())
    if not zones:
        return store_zone
    if store_zone in zones:
        return store_zone
    return zones[0]
