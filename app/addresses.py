"""Which network addresses are internal: the SSRF test shared by the check made when a
contact's webhook URL is saved (`app.contacts.service.check_webhook_url`) and the one made
again at every connection (`app.notify.destinations`). One definition, below both."""

from __future__ import annotations

import ipaddress
from typing import TypeAlias

__all__ = ["Address", "is_internal"]

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_internal(address: Address) -> bool:
    """Loopback, private, link-local (cloud metadata), shared (CGNAT), reserved, multicast or
    unspecified: anything that is not a public unicast address, including IPv4 addresses
    carried inside IPv6 (`::ffff:127.0.0.1`, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_internal(embedded):
            return True
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
