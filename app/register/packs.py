"""Which product a scanned stock pack is: GTIN -> product code. A data table, not logic.

The real table comes from the dm+d (AMPP GTINs, NHSBSA release via TRUD); it is not written from
memory here (peers.md §4). Until it is imported, a receipt scanned from a pack whose GTIN is not
listed must name its product, and the GTIN, batch and expiry are still recorded.

`PACKS` holds only the products' confirmed GTINs: it is the seed in production. The GS1
documentation example GTIN (the one the device tests scan) stands for a 500 mL bottle of
methadone 1 mg/mL so the demo and the tests can show a scan filling in the product; it is in
`EXAMPLE_PACKS`, added by `seed_for` everywhere but production, so a real pharmacy never takes
a documentation barcode for its stock (docs/decisions.md, "The stock bottle checked").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.prescriptions.products import PRODUCTS

__all__ = ["EXAMPLE_PACKS", "PACKS", "seed_for"]

# The confirmed GTINs each product carries (`Product.gtins`, none yet): the production seed.
PACKS: Mapping[str, str] = MappingProxyType(
    {gtin: product.code for product in PRODUCTS.values() for gtin in product.gtins}
)

# GS1 example GTIN: demo and tests only; the standard (not sugar-free) 1 mg/mL solution.
EXAMPLE_PACKS: Mapping[str, str] = MappingProxyType({"05012345678900": "methadone-1mg-ml"})


def seed_for(environment: str) -> Mapping[str, str]:
    """The seed table for a deployment (`Settings.environment`): the confirmed GTINs, and in
    development and test also the GS1 example the demo and the tests scan."""
    if environment == "production":
        return PACKS
    return MappingProxyType({**EXAMPLE_PACKS, **PACKS})
