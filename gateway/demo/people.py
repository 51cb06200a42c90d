"""Who the demo customers are: names, addresses and contact points that fit their country.

Every value comes from the `random.Random` and the per-locale `Faker` instances handed in, so
the same seed always yields the same people. Dates never come from Faker (its date helpers
read the clock); they are drawn relative to the caller's fixed `now`.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from faker import Faker


@dataclass(frozen=True)
class Locale:
    """A market of the demo retailer: language, law, currency and phone numbering."""

    code: str
    country: str
    language: str
    jurisdiction: str
    currency: str
    dial: str
    mobile_prefixes: tuple[str, ...]
    mobile_digits: int
    postcode_length: int  # 0: British outward/inward format


@dataclass(frozen=True)
class City:
    """A real city with its region, centre and postcode prefixes."""

    name: str
    region: str
    latitude: float
    longitude: float
    postcodes: tuple[str, ...]
    weight: int = 1


LOCALES: tuple[Locale, ...] = (
    Locale("en_GB", "GB", "en", "gdpr", "GBP", "+44", ("74", "75", "77", "78", "79"), 8, 0),
    Locale("de_DE", "DE", "de", "gdpr", "EUR", "+49", ("151", "152", "160", "170", "176"), 8, 5),
    Locale("fr_FR", "FR", "fr", "gdpr", "EUR", "+33", ("6", "7"), 8, 5),
    Locale("ru_RU", "RU", "ru", "152-fz", "RUB", "+7", ("9",), 9, 6),
)
LOCALE_WEIGHTS = (35, 25, 20, 20)

CITIES: dict[str, tuple[City, ...]] = {
    "GB": (
        City("London", "Greater London", 51.5074, -0.1278,
             ("SW1A", "E1", "N1", "SE1", "W2", "NW3"), 4),
        City("Manchester", "Greater Manchester", 53.4808, -2.2426, ("M1", "M4", "M20")),
        City("Birmingham", "West Midlands", 52.4862, -1.8904, ("B1", "B5", "B15")),
        City("Leeds", "West Yorkshire", 53.8008, -1.5491, ("LS1", "LS6")),
        City("Liverpool", "Merseyside", 53.4084, -2.9916, ("L1", "L8")),
        City("Bristol", "Bristol", 51.4545, -2.5879, ("BS1", "BS8")),
        City("Glasgow", "Scotland", 55.8642, -4.2518, ("G1", "G12")),
        City("Edinburgh", "Scotland", 55.9533, -3.1883, ("EH1", "EH3")),
        City("Cardiff", "Wales", 51.4816, -3.1791, ("CF10", "CF24")),
        City("Belfast", "Northern Ireland", 54.5973, -5.9301, ("BT1", "BT7")),
    ),
    "DE": (
        City("Berlin", "Berlin", 52.5200, 13.4050, ("10", "12", "13"), 3),
        City("Hamburg", "Hamburg", 53.5511, 9.9937, ("20", "22"), 2),
        City("München", "Bayern", 48.1351, 11.5820, ("80", "81"), 2),
        City("Köln", "Nordrhein-Westfalen", 50.9375, 6.9603, ("50", "51")),
        City("Frankfurt am Main", "Hessen", 50.1109, 8.6821, ("60",)),
        City("Stuttgart", "Baden-Württemberg", 48.7758, 9.1829, ("70",)),
        City("Düsseldorf", "Nordrhein-Westfalen", 51.2277, 6.7735, ("40",)),
        City("Leipzig", "Sachsen", 51.3397, 12.3731, ("04",)),
        City("Dresden", "Sachsen", 51.0504, 13.7373, ("01",)),
    ),
    "FR": (
        City("Paris", "Île-de-France", 48.8566, 2.3522,
             tuple(f"750{n:02d}" for n in range(1, 21)), 4),
        City("Marseille", "Provence-Alpes-Côte d'Azur", 43.2965, 5.3698,
             tuple(f"130{n:02d}" for n in range(1, 17))),
        City("Lyon", "Auvergne-Rhône-Alpes", 45.7640, 4.8357,
             tuple(f"6900{n}" for n in range(1, 10))),
        City("Toulouse", "Occitanie", 43.6047, 1.4442, ("310",)),
        City("Nice", "Provence-Alpes-Côte d'Azur", 43.7102, 7.2620, ("060",)),
        City("Nantes", "Pays de la Loire", 47.2184, -1.5536, ("440",)),
        City("Bordeaux", "Nouvelle-Aquitaine", 44.8378, -0.5792, ("330",)),
        City("Lille", "Hauts-de-France", 50.6292, 3.0573, ("590",)),
        City("Strasbourg", "Grand Est", 48.5734, 7.7521, ("670",)),
    ),
    "RU": (
        City("Москва", "Москва", 55.7558, 37.6173, ("101", "115", "125"), 4),
        City("Санкт-Петербург", "Санкт-Петербург", 59.9343, 30.3351, ("190", "197"), 2),
        City("Новосибирск", "Новосибирская область", 55.0084, 82.9357, ("630",)),
        City("Екатеринбург", "Свердловская область", 56.8389, 60.6057, ("620",)),
        City("Казань", "Республика Татарстан", 55.7963, 49.1088, ("420",)),
        City("Нижний Новгород", "Нижегородская область", 56.2965, 43.9361, ("603",)),
        City("Самара", "Самарская область", 53.1959, 50.1002, ("443",)),
        City("Краснодар", "Краснодарский край", 45.0355, 38.9753, ("350",)),
    ),
}

INTERESTS = ("running", "cooking", "books", "gaming", "travel", "fashion", "gardening", "music")
CHANNELS = ("email", "sms", "push", "post")
CHANNEL_WEIGHTS = (50, 20, 22, 8)
# Reserved names (RFC 2606 / 6761): demo mail can never reach a real mailbox.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")
_BIRTH_FIRST = date(1940, 1, 1).toordinal()
_BIRTH_LAST = date(2006, 12, 31).toordinal()
_GB_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

_RU_LATIN = (
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
    "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya",
)
_RU = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _RU_LATIN, strict=True))
_DE = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters only: Cyrillic transliterated, German umlauts spelled out."""
    out: list[str] = []
    for ch in text.lower():
        if ch in _RU:
            out.append(_RU[ch])
        elif ch in _DE:
            out.append(_DE[ch])
        else:
            out.extend(c for c in unicodedata.normalize("NFKD", ch) if c.isascii() and c.isalpha())
    return "".join(out)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def luhn_digit(number: str) -> str:
    """The Luhn check digit that completes `number`."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def loyalty_card(rng: random.Random, customer_id: int) -> str:
    """16 digits, unique per customer id: scheme prefix, id, random part, Luhn check digit."""
    body = f"63{customer_id % 10**9:09d}{_digits(rng, 4)}"
    return body + luhn_digit(body)


def national_phone(phone: str, country: str) -> str:
    """How a person types their number at home: `07700 900123`, `8 (912) 345-67-89`."""
    dial = {"GB": "+44", "DE": "+49", "FR": "+33", "RU": "+7"}[country]
    nat = phone[len(dial):]
    if country == "RU":
        return f"8 ({nat[:3]}) {nat[3:6]}-{nat[6:8]}-{nat[8:]}"
    if country == "FR":
        nat = "0" + nat
        return " ".join(nat[i : i + 2] for i in range(0, len(nat), 2))
    return f"0{nat[:4]} {nat[4:]}"


def _postcode(rng: random.Random, locale: Locale, city: City) -> str:
    prefix = rng.choice(city.postcodes)
    if locale.postcode_length == 0:
        return f"{prefix} {rng.randint(1, 9)}{rng.choice(_GB_LETTERS)}{rng.choice(_GB_LETTERS)}"
    return prefix + _digits(rng, locale.postcode_length - len(prefix))


def _email(rng: random.Random, first: str, last: str, customer_id: int) -> str:
    """Unique because the customer id is the only run of digits in the local part."""
    f, l = ascii_slug(first) or "customer", ascii_slug(last) or "demo"
    local = rng.choice((f"{f}.{l}", f"{f[0]}{l}", f"{l}.{f}", f"{f}_{l}"))
    return f"{local}{customer_id}@{rng.choice(EMAIL_DOMAINS)}"


def make_person(
    rng: random.Random, fakers: dict[str, Faker], customer_id: int, now: datetime
) -> tuple[Locale, dict[str, Any]]:
    """One person's identity, contact, location and preference columns, plus `created_at`."""
    locale = rng.choices(LOCALES, weights=LOCALE_WEIGHTS)[0]
    fake = fakers[locale.code]
    if rng.random() < 0.5:
        first, last = fake.first_name_female(), fake.last_name_female()
    else:
        first, last = fake.first_name_male(), fake.last_name_male()
    cities = CITIES[locale.country]
    city = rng.choices(cities, weights=[c.weight for c in cities])[0]
    language = "en" if locale.language != "en" and rng.random() < 0.05 else locale.language
    phone = locale.dial + rng.choice(locale.mobile_prefixes) + _digits(rng, locale.mobile_digits)
    created_at = now - timedelta(seconds=rng.randint(86_400, 6 * 365 * 86_400))
    row: dict[str, Any] = {
        "id": customer_id,
        "created_at": created_at,
        "first_name": first,
        "last_name": last,
        "birth_date": date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST)),
        "loyalty_card": loyalty_card(rng, customer_id) if rng.random() < 0.6 else None,
        "email": _email(rng, first, last, customer_id),
        "phone": phone,
        "street": fake.street_address().replace("\n", ", "),
        "city": city.name,
        "postcode": _postcode(rng, locale, city),
        "region": city.region,
        "country": locale.country,
        "latitude": round(city.latitude + rng.uniform(-0.08, 0.08), 5),
        "longitude": round(city.longitude + rng.uniform(-0.12, 0.12), 5),
        "language": language,
        "interests": sorted(rng.sample(INTERESTS, rng.randint(1, 4))),
        "preferred_channel": rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
        "jurisdiction": locale.jurisdiction,
    }
    return locale, row


def misspell(rng: random.Random, attributes: dict[str, Any], country: str) -> None:
    """Make what one source knows slightly different from the golden record, in place."""
    options = [k for k in ("email", "last_name", "first_name", "phone") if attributes.get(k)]
    if not options:
        return
    key = rng.choice(options)
    value = str(attributes[key])
    if key == "email":
        attributes[key] = value.upper() if rng.random() < 0.5 else value.title()
    elif key == "phone":
        attributes[key] = national_phone(value, country)
    else:
        swaps = [i for i in range(1, len(value) - 1) if value[i] != value[i + 1]]
        if swaps:
            i = rng.choice(swaps)
            attributes[key] = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        else:
            attributes[key] = value + value[-1:]
