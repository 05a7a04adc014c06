"""New passwords (issue 16 item 13): `12345678` was accepted. Staff passwords are at least 12
characters, not on the list of the 30,000 most common passwords (shipped in the `zxcvbn`
package), and do not contain the username."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import World, unique

USERS = "/api/v1/users"


def create(world: World, password: str, username: str | None = None) -> Any:
    return world.post(
        USERS,
        {
            "username": username or unique("staff"),
            "password": password,
            "role": "technician",
            "display_name": "New Technician",
            "pharmacy_id": str(world.home.pharmacy_id),
        },
        role="admin",
    )


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("12345678", "string_too_short"),
        ("short pass", "string_too_short"),
        ("password1234", "common_password"),
        ("qwertyuiop12", "common_password"),
        ("PASSWORD1234", "common_password"),  # the list is matched without case
        ("aaaaaaaaaaaaaaaa", "too_few_characters"),
    ],
)
def test_a_weak_password_is_refused_naming_the_rule(world: World, password: str, rule: str) -> None:
    response = create(world, password)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert {(e["field"], e["rule"]) for e in response.json()["errors"]} == {("password", rule)}


def test_a_password_containing_the_username_is_refused(world: World) -> None:
    username = unique("tech")
    response = create(world, f"my name is {username}!", username=username)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "contains_username"


def test_a_long_uncommon_passphrase_is_accepted_and_signs_in(world: World) -> None:
    username = unique("tech")
    created = create(world, "violet kettle under the stairs", username=username)
    token = world.client.post(
        "/api/v1/auth/token",
        data={"username": username, "password": "violet kettle under the stairs"},
    )

    assert created.status_code == 201, created.text
    assert token.status_code == 200, token.text
