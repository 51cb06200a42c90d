"""No request forgery through a campaign: where a webhook may post, checked twice.

A destination's URL must start with one of the operator's allowed prefixes
(`GATEWAY_ACTIVATION_ALLOWED_URLS`), use http(s) without credentials, and resolve only to
public addresses; a private, loopback, link-local or reserved address is refused unless it
lies in a network the operator named (`GATEWAY_ACTIVATION_PRIVATE_NETWORKS`, e.g. a receiver
on the same host in a test). The gateway's own address (`GATEWAY_PUBLIC_URL`) is refused in
every case. The check runs when a destination is configured and again before each delivery
(a name may resolve elsewhere later); redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.errors import ServiceError
from gateway.policy.codes import Code

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _refuse(message: str) -> ServiceError:
    return ServiceError(Code.DESTINATION_NOT_ALLOWED, message, "url")


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


@dataclass(frozen=True)
class UrlGuard:
    """The allowed prefixes, the private networks allowed anyway, and the gateway's address."""

    prefixes: tuple[str, ...]
    private_ok: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    own: tuple[str, int] | None
    resolve: Resolver = _resolve

    @classmethod
    def from_settings(cls, allowed: str, private: str, public_url: str,
                      resolve: Resolver | None = None) -> UrlGuard:
        """From the comma-separated settings; a malformed network is a configuration error."""
        prefixes = tuple(p.strip() for p in allowed.split(",") if p.strip())
        try:
            nets = tuple(ipaddress.ip_network(n.strip(), strict=False)
                         for n in private.split(",") if n.strip())
        except ValueError as exc:
            raise SystemExit(f"GATEWAY_ACTIVATION_PRIVATE_NETWORKS: {exc}") from exc
        own_parts = urlsplit(public_url) if public_url else None
        own = ((own_parts.hostname or "", _port(own_parts.scheme, own_parts.port))
               if own_parts and own_parts.hostname else None)
        return cls(prefixes, nets, own, resolve or _resolve)

    def check(self, url: str) -> None:
        """Refuse (DESTINATION_NOT_ALLOWED) a URL a webhook may not post to."""
        try:
            parts = urlsplit(url)
            port = _port(parts.scheme, parts.port)
        except ValueError as exc:
            raise _refuse("not a valid URL") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _refuse("only http and https URLs with a host can be destinations")
        if parts.username or parts.password:
            raise _refuse("credentials in a destination URL are refused; use the signing secret")
        if not any(_under(url, prefix) for prefix in self.prefixes):
            raise _refuse(
                "this URL is outside the allowed destinations; the operator adds its prefix to "
                "GATEWAY_ACTIVATION_ALLOWED_URLS"
            )
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolve(parts.hostname, port)]
        except (OSError, ValueError) as exc:
            raise _refuse("the destination's host does not resolve") from exc
        if not addresses:
            raise _refuse("the destination's host does not resolve")
        for address in addresses:
            self._check_address(address, port)

    def _check_address(self, address: Address, port: int) -> None:
        if self._is_own(address, port):
            raise _refuse("the gateway itself cannot be a destination")
        if address.is_global and not address.is_multicast:
            return
        if any(address in net for net in self.private_ok):
            return
        raise _refuse(
            "the destination resolves to a private, loopback or reserved address; the operator "
            "lists such networks in GATEWAY_ACTIVATION_PRIVATE_NETWORKS when they are meant"
        )

    def _is_own(self, address: Address, port: int) -> bool:
        if self.own is None or port != self.own[1]:
            return False
        host = self.own[0]
        try:
            own_addresses = {ipaddress.ip_address(a.split("%")[0]) for a in self.resolve(host, port)}
        except (OSError, ValueError):
            own_addresses = set()
        # A gateway listening on a wildcard or loopback address answers on every local one.
        if any(a.is_unspecified or a.is_loopback for a in own_addresses) or not own_addresses:
            return address.is_loopback or address.is_unspecified or address in own_addresses
        return address in own_addresses


def _under(url: str, prefix: str) -> bool:
    """`url` lies under `prefix`: same scheme, host and port, and a path below the prefix's."""
    try:
        u, p = urlsplit(url), urlsplit(prefix)
        same_origin = (u.scheme, (u.hostname or "").lower(), _port(u.scheme, u.port)) == (
            p.scheme, (p.hostname or "").lower(), _port(p.scheme, p.port))
    except ValueError:
        return False
    base = p.path or "/"
    path = u.path or "/"
    return same_origin and (path == base or path.startswith(base.rstrip("/") + "/") or base == "/")
