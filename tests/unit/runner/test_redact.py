from __future__ import annotations

import json

import pytest

from homelab_ctl.runner import MASK, Redactor


def test_masks_every_occurrence_and_json_escaped_forms() -> None:
    secret = 'k3y"with\\quotes'
    redact = Redactor([secret, "0123456789abcdef" * 4])
    text = f"raw {secret} json {json.dumps({'v': secret})} key {'0123456789abcdef' * 4}."
    out = redact(text)
    assert secret not in out and json.dumps(secret)[1:-1] not in out and "0123456789abcdef" * 4 not in out
    assert out == f'raw {MASK} json {{"v": "{MASK}"}} key {MASK}.'


def test_longest_secret_wins_when_one_contains_another() -> None:
    redact = Redactor(["abcdef", "abcdef.0123456789abcdef"])
    assert redact("token abcdef.0123456789abcdef") == f"token {MASK}"


def test_empty_registry_and_empty_values_change_nothing() -> None:
    redact = Redactor(["", ""])
    assert len(redact) == 0 and redact("anything") == "anything"


def test_refuses_secrets_too_short_to_mask_safely() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        Redactor(["abc"])


def test_secrets_added_later_are_masked() -> None:
    redact = Redactor()
    redact.extend(["late-secret-value"])
    assert redact("x late-secret-value y") == f"x {MASK} y"
