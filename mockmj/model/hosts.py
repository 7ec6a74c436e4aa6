"""Which hosts are this machine: the mock reads links only there, and warns when it listens elsewhere."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Does `host` name only this machine (127.0.0.0/8, ::1, localhost)?"""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
