"""The purchases the bench replays, generated deterministically from a seed.

Every contact buys once; 40% never come back; the other purchases go to the rest, more to
some than to others (geometric weights, at most MAX_PURCHASES_PER_CONTACT each), so the
targeted post-purchase workflow sees first, second and repeat purchases. Each order holds
products of one category, and the category decides which second workflow the order enters
(see replay.SECOND_WORKFLOW_BY_CATEGORY): every order enters two workflows, as the
reference store's orders do."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ONE_TIME_BUYERS = 0.4
MAX_PURCHASES_PER_CONTACT = 20
REPEAT_WEIGHT_DECAY = 0.985

# One product per category; the price makes the order-value tiers come out varied.
CATALOGUE: dict[str, dict[str, str]] = {
    "dresses": {"sku": "VENISE-DRESS", "name": "Venise dress", "price": "129.90"},
    "accessories": {"sku": "SILK-SCARF", "name": "Silk scarf", "price": "35.50"},
    "bags": {"sku": "LEATHER-TOTE", "name": "Leather tote", "price": "240.00"},
    "shoes": {"sku": "SUEDE-LOAFER", "name": "Suede loafer", "price": "89.00"},
}
# Where contacts live (EU, EEA-only and elsewhere) and the language they read.
COUNTRIES = [
    ("PL", "pl-PL"),
    ("DE", "de-DE"),
    ("IT", "it-IT"),
    ("CZ", "cs-CZ"),
    ("FR", "fr-FR"),
    ("NO", "nb-NO"),
    ("US", "en-US"),
    ("GB", "en-GB"),
]
COUNTRY_WEIGHTS = [20, 15, 15, 10, 10, 5, 15, 10]
MARKETING_CONSENT_SHARE = 0.7


@dataclass(frozen=True)
class Customer:
    email: str
    first_name: str
    country: str
    language: str
    accepts_marketing: bool


@dataclass(frozen=True)
class Purchase:
    customer: Customer
    order_id: str
    number: int  # 1 = the customer's first purchase
    category: str
    quantity: int

    @property
    def total(self) -> str:
        return str(Decimal(CATALOGUE[self.category]["price"]) * self.quantity)

    def items(self) -> list[dict[str, Any]]:
        product = CATALOGUE[self.category]
        return [
            {
                "sku": product["sku"],
                "name": product["name"],
                "category": self.category,
                "quantity": self.quantity,
                "price": product["price"],
            }
        ]


def purchase_counts(purchases: int, contacts: int, rng: random.Random) -> list[int]:
    """How many times each contact buys; sums to `purchases`."""
    if not 0 < contacts <= purchases:
        raise ValueError(f"need 0 < contacts ({contacts}) <= purchases ({purchases})")
    counts = [1] * contacts
    returning = list(range(round(contacts * ONE_TIME_BUYERS), contacts)) or list(range(contacts))
    capacity = len(returning) * (MAX_PURCHASES_PER_CONTACT - 1)
    if purchases - contacts > capacity:
        raise ValueError(f"{purchases} purchases do not fit {contacts} contacts; use more contacts")
    weights = [REPEAT_WEIGHT_DECAY**rank for rank in range(len(returning))]
    for _ in range(purchases - contacts):
        while True:
            (chosen,) = rng.choices(returning, weights)
            if counts[chosen] < MAX_PURCHASES_PER_CONTACT:
                counts[chosen] += 1
                break
    return counts


def plan(purchases: int, contacts: int, seed: int) -> list[list[Purchase]]:
    """One list per contact, in the order the contact buys."""
    rng = random.Random(seed)
    chains = []
    for index, count in enumerate(purchase_counts(purchases, contacts, rng)):
        country, language = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
        customer = Customer(
            email=f"customer-{index:04d}@bench.example",
            first_name=f"Customer{index}",
            country=country,
            language=language,
            accepts_marketing=rng.random() < MARKETING_CONSENT_SHARE,
        )
        chains.append(
            [
                Purchase(
                    customer=customer,
                    order_id=f"B-{index:04d}-{number}",
                    number=number,
                    category=rng.choice(list(CATALOGUE)),
                    quantity=rng.choice([1, 1, 1, 2, 3, 5]),
                )
                for number in range(1, count + 1)
            ]
        )
    return chains


def mix(chains: list[list[Purchase]]) -> dict[str, int]:
    """First, second and repeat (third or later) purchases, and orders per category."""
    numbers = Counter(min(p.number, 3) for chain in chains for p in chain)
    categories = Counter(p.category for chain in chains for p in chain)
    return {
        "first": numbers[1],
        "second": numbers[2],
        "repeat": numbers[3],
        **{f"category_{name}": categories[name] for name in CATALOGUE},
    }
