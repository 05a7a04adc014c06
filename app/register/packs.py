"""Which product a scanned stock pack is: GTIN -> product code. A data table, not logic.

The real table comes from the dm+d (AMPP GTINs, NHSBSA release via TRUD); it is not written from
memory here (peers.md §4). Until it is imported, a receipt scanned from a pack whose GTIN is not
listed must name its product, and the GTIN, batch and expiry are still recorded.

The one entry below is the GS1 documentation example GTIN (the one the device tests scan); it
stands for a 500 mL bottle of methadone 1 mg/mL so the demo and the tests can show a scan
filling in the product. Remove it when the dm+d table is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["PACKS"]

PACKS: Mapping[str, str] = MappingProxyType(
    {
        "05012345678900": "methadone-1mg-ml",  # GS1 example GTIN: demo and tests only
    }
)
