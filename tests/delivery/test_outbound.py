"""The outbound guard: https to public addresses only, checked by resolving at send time."""

from __future__ import annotations

import pytest

from takeamoment.services.outbound import OutboundRefused, check_address, check_shape, resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://push.example.com/x",  # not https
        "ftp://push.example.com/x",
        "https:///no-host",
        "https://user:secret@push.example.com/x",
        "https://push.example.com:notaport/x",
        "https://push.example.com/" + "x" * 2000,
    ],
)
def test_urls_of_the_wrong_shape_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        check_shape(url, allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound to
        "::ffff:127.0.0.1",
        "fc00::1",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    with pytest.raises(OutboundRefused):
        check_address(address, allow_private=False)
    check_address(address, allow_private=True)  # development and tests


def test_public_addresses_pass() -> None:
    for address in ("93.184.216.34", "2606:4700:4700::1111"):
        check_address(address, allow_private=False)


async def test_a_name_is_resolved_and_every_address_checked() -> None:
    with pytest.raises(OutboundRefused, match="loopback"):
        await resolve("https://localhost:8443/push", allow_private=False)
    target = await resolve("http://localhost:8443/push", allow_private=True)
    assert target.host == "localhost" and target.port == 8443
    assert target.address in ("127.0.0.1", "::1")


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(OutboundRefused, match="cannot be resolved"):
        await resolve("https://no-such-host.invalid/push", allow_private=False)
