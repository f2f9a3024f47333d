"""The password policy: length alone let ``aaaaaaaaaa`` through."""

import pytest

from lanet.server.services.passwords import generate_password, password_problem


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaa", "repetitive"),
        ("abcabcabca", "repetitive"),
        ("1212121212", "repetitive"),
        ("1234567890", "sequence"),
        ("9876543210", "sequence"),
        ("qwertyuiop", "sequence"),
        ("1q2w3e4r5t", "sequence"),
        ("P@ssw0rd2024!", "common"),
        ("Contraseña2024", "common"),
        ("Bienvenido#1", "common"),
        ("zxcvbnm123", "common"),
        ("ana.lopez.2024", "e-mail"),
        ("short1!", "at least 10"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    problem = password_problem(password, email="ana.lopez@cafe.mx")
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "password", ["correcto-caballo-bateria", "Mi perro se llama Firulais", "tortuga verde 1987 cielo"]
)
def test_phrases_are_accepted(password: str) -> None:
    assert password_problem(password, email="ana.lopez@cafe.mx") is None


def test_generated_passwords_always_pass() -> None:
    assert all(password_problem(generate_password()) is None for _ in range(500))
