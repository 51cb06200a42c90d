"""The texts of the messages the portal sends, per language (English when one is missing)."""

from __future__ import annotations

LANGUAGES = ("en", "ru")

_LINK = {
    "en": (
        "Your sign-in link",
        ("Open this link to see and manage your data. It works once, for {minutes} minutes:\n"
         "{link}\n\nIf you did not ask for it, ignore this message: nothing happens."),
    ),
    "ru": (
        "Ссылка для входа",
        ("Откройте эту ссылку, чтобы увидеть свои данные и управлять ими. Она действует один "
         "раз, {minutes} минут:\n{link}\n\nЕсли вы её не запрашивали, просто не обращайте внимания."),
    ),
}


_CODE = {
    "en": ("Your sign-in code",
           "Your sign-in code is {code}. It works once, for {minutes} minutes. Do not share it."),
    "ru": ("Код для входа",
           "Ваш код для входа: {code}. Он действует один раз, {minutes} минут. Никому его не сообщайте."),
}


def language_of(wanted: str | None) -> str:
    """A language the portal speaks: `wanted` if it does, else English."""
    return wanted if wanted in LANGUAGES else "en"


def link_message(language: str, link: str, minutes: int) -> tuple[str, str]:
    """The subject and body of a sign-in link message."""
    subject, body = _LINK[language_of(language)]
    return subject, body.format(link=link, minutes=minutes)


def code_message(language: str, code: str, minutes: int) -> tuple[str, str]:
    """The subject and text of a sign-in code sent by SMS."""
    subject, body = _CODE[language_of(language)]
    return subject, body.format(code=code, minutes=minutes)
