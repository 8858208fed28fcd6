import re

import pytest

from helpers.naming import unique_name


def test_names_differ_between_calls_and_keep_the_prefix():
    names = {unique_name("orders") for _ in range(1000)}
    assert len(names) == 1000
    assert all(n.startswith("orders-") for n in names)


def test_names_are_valid_kafka_topic_names():
    # Kafka topic names: [a-zA-Z0-9._-], at most 249 characters.
    name = unique_name("lab.topic_1")
    assert re.fullmatch(r"[a-zA-Z0-9._-]{1,249}", name)


@pytest.mark.parametrize("prefix", ["", "has space", "slash/y"])
def test_bad_prefix_is_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        unique_name(prefix)
