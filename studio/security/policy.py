"""Which Host names and Origins the server answers, from the environment. Pure functions.

A page on any site the user visits can send requests to 127.0.0.1; a DNS-rebinding page can
even make them look same-origin under its own host name. So the server answers only its own
host names (loopback, `IOM_HOST`, and `IOM_ALLOWED_HOSTS` for people behind their own proxy),
and refuses any request or websocket whose Origin is not the studio's own page (or listed in
`IOM_ALLOWED_ORIGINS`). Requests without an Origin (curl, SDKs) are not from a browser page.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

HOST_REFUSED = ("this server answers only its own host names (127.0.0.1, localhost, [::1] and IOM_HOST); "
                "to serve it under another name, list that name in IOM_ALLOWED_HOSTS (a comma list) and restart.")
ORIGIN_REFUSED = ("requests from other web pages are refused; to let another site's pages use the studio, "
                  "list its origin (e.g. https://tools.example) in IOM_ALLOWED_ORIGINS and restart.")


def split_host(value: str) -> str:
    """The host name of a Host header (no port, no IPv6 brackets, lower case)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value  # a bare IPv6 address or a name without port


def is_loopback(host: str) -> bool:
    host = split_host(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listed(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


@dataclass(frozen=True)
class AccessPolicy:
    hosts: frozenset[str]
    origins: frozenset[str]

    @classmethod
    def from_env(cls, bind_host: str | None = None) -> "AccessPolicy":
        hosts = set(LOOPBACK_NAMES)
        bind_host = bind_host or os.environ.get("IOM_HOST", "")
        if bind_host and bind_host not in ("0.0.0.0", "::"):
            hosts.add(split_host(bind_host))
        hosts.update(split_host(h) for h in _listed("IOM_ALLOWED_HOSTS"))
        origins = {o.rstrip("/").lower() for o in _listed("IOM_ALLOWED_ORIGINS")}
        return cls(frozenset(hosts), frozenset(origins))

    def host_allowed(self, host_header: str | None) -> bool:
        return bool(host_header) and split_host(host_header) in self.hosts

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """No Origin: not a browser page. Else the page must come from this very host (scheme
        and port included) or be listed in IOM_ALLOWED_ORIGINS."""
        if origin is None:
            return True
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        if not host_header or not self.host_allowed(host_header):
            return False
        host = host_header.strip().lower()
        return origin in (f"http://{host}", f"https://{host}")
