"""lab.brokers.services: the services beside the brokers, one module each, one table of ports."""

import pytest

from lab.brokers import native, services
from lab.brokers.config import endpoint
from lab.brokers.process import StartError


def test_an_unknown_service_is_refused_with_the_known_ones():
    with pytest.raises(StartError, match="no service called 'nats'; the lab has"):
        services.up("nats")


def test_no_two_services_or_brokers_share_a_port():
    owners: dict[int, str] = {}
    for broker in ("kafka", "rabbitmq", "redis"):
        for port in native.ports(endpoint(broker)):
            owners[port] = broker
    for name in services.MODULES:
        for port in services.service(name).ports:
            assert port not in owners, f"{name} and {owners[port]} both want port {port}"
            owners[port] = name
