"""A generator of source records with their truth, for tests, the demo and the benchmark.

Persons live in households (couples, families with children, twins) across four markets;
each is known to one to five of six source systems (crm, web, email, loyalty, orders,
call_center), sometimes twice to one system. Every record carries the noise real systems
have: typos, nicknames, Cyrillic names in some systems and transliterated by one of several
schemes in others, moves (old address in older systems), maiden names, missing fields,
first and last name swapped, birth dates with transposed digits or day and month swapped,
written in each system's own date format, phones written nationally or internationally,
and household members sharing an email, a home phone and an address.

Deterministic for a seed. `truth` of a record is its person's id.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from faker import Faker

from gateway.linkage.normalize import fold_name

SOURCES = ("crm", "web", "email", "loyalty", "orders", "call_center")
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "crm": ("first_name", "middle_name", "last_name", "birth_date", "sex", "email", "phone",
            "house_number", "street", "unit", "city", "postcode", "region", "country"),
    "web": ("first_name", "last_name", "email", "city", "country", "birth_date"),
    "email": ("first_name", "last_name", "email"),
    "loyalty": ("first_name", "last_name", "birth_date", "sex", "phone", "loyalty_card",
                "postcode", "country"),
    "orders": ("first_name", "last_name", "email", "phone", "house_number", "street", "unit",
               "city", "postcode", "country"),
    "call_center": ("first_name", "last_name", "phone", "birth_date", "postcode"),
}
SOURCE_SHARE = {"crm": 0.65, "web": 0.5, "email": 0.45, "loyalty": 0.35, "orders": 0.55,
                "call_center": 0.2}
DATE_FORMATS = {"crm": "%Y-%m-%d", "web": "%d/%m/%Y", "email": "%Y-%m-%d", "loyalty": "%d.%m.%Y",
                "orders": "%Y%m%d", "call_center": "%d %b %Y"}
NICK = {"robert": "Bob", "william": "Bill", "james": "Jim", "michael": "Mike", "richard": "Rick",
        "thomas": "Tom", "elizabeth": "Liz", "katherine": "Kate", "margaret": "Maggie",
        "jennifer": "Jenny", "daniel": "Dan", "david": "Dave", "christopher": "Chris",
        "matthew": "Matt", "andrew": "Andy", "samuel": "Sam", "benjamin": "Ben",
        "johannes": "Hans", "alexander": "Alex", "aleksandr": "Sasha", "mikhail": "Misha",
        "dmitrii": "Dima", "ivan": "Vanya", "sergei": "Seryozha", "vladimir": "Vova",
        "elena": "Lena", "tatiana": "Tanya", "ekaterina": "Katya", "mariia": "Masha",
        "olga": "Olya", "anastasiia": "Nastya", "nataliia": "Natasha", "nikolai": "Kolya",
        "evgenii": "Zhenya", "iurii": "Yura", "pavel": "Pasha", "svetlana": "Sveta",
        "irina": "Ira", "anna": "Anya", "joseph": "Joe", "patrick": "Pat", "stephen": "Steve"}
_TRANSLIT: dict[str, dict[str, str]] = {
    "icao": {"й": "i", "ю": "iu", "я": "ia", "х": "kh", "ж": "zh", "ц": "ts", "щ": "shch",
             "ё": "e", "ы": "y", "е": "e", "ъ": "ie", "ь": ""},
    "bgn": {"й": "y", "ю": "yu", "я": "ya", "х": "kh", "ж": "zh", "ц": "ts", "щ": "shch",
            "ё": "yo", "ы": "y", "е": "e", "ъ": "", "ь": ""},
    "popular": {"й": "y", "ю": "yu", "я": "ya", "х": "h", "ж": "zh", "ц": "tz", "щ": "sch",
                "ё": "e", "ы": "i", "е": "e", "ъ": "", "ь": ""},
    "german": {"й": "j", "ю": "ju", "я": "ja", "х": "ch", "ж": "sh", "ц": "z", "щ": "schtsch",
               "ё": "jo", "ы": "y", "е": "e", "ъ": "", "ь": ""},
}
_BASE = dict(zip("абвгдзиклмнопрстуфчшэ",
                 ("a", "b", "v", "g", "d", "z", "i", "k", "l", "m", "n", "o", "p", "r", "s",
                  "t", "u", "f", "ch", "sh", "e"), strict=True))
LOCALES = (("en_GB", "GB", 35), ("de_DE", "DE", 20), ("fr_FR", "FR", 20), ("ru_RU", "RU", 25))
DIAL = {"GB": "+44", "DE": "+49", "FR": "+33", "RU": "+7"}


def transliterate(text: str, scheme: str) -> str:
    """`text` in Latin letters under one of the schemes real systems use."""
    table = _TRANSLIT[scheme]
    out: list[str] = []
    for i, ch in enumerate(text):
        low = ch.lower()
        if low == "й" and i == len(text) - 1 and scheme in ("bgn", "popular") and i > 0 \
                and text[i - 1].lower() == "и":
            out[-1] = ""
            piece = "y" if scheme == "popular" else "iy"
        elif low == "е" and i == 0 and scheme == "bgn":
            piece = "ye"
        else:
            piece = table.get(low, _BASE.get(low, low))
        out.append(piece.capitalize() if ch.isupper() else piece)
    return "".join(out)


@dataclass
class Person:
    """One real person: what is true of them, and what was true before (moves, names)."""

    id: int
    locale: str
    country: str
    first: str
    middle: str
    last: str
    maiden: str | None
    sex: str
    birth: date
    email: str | None
    old_email: str | None
    mobile: str | None
    card: str | None
    address: dict[str, str]
    old_address: dict[str, str] | None
    household: Household


@dataclass
class Household:
    """People sharing an address, sometimes an email account and a home phone."""

    address: dict[str, str]
    email: str | None
    phone: str | None
    members: list[Person] = field(default_factory=list)


class _Pools:
    """Names, streets and cities drawn once per locale (Faker is slow per call)."""

    def __init__(self, seed: int) -> None:
        self.by_locale: dict[str, dict[str, list[str]]] = {}
        for code, _, _ in LOCALES:
            fake = Faker(code)
            fake.seed_instance(seed)
            pools = {
                "f": sorted({fake.first_name_female() for _ in range(600)}),
                "m": sorted({fake.first_name_male() for _ in range(600)}),
                "last_f": sorted({fake.last_name_female() for _ in range(1500)}),
                "last_m": sorted({fake.last_name_male() for _ in range(1500)}),
                "street": sorted({fake.street_name() for _ in range(1500)}),
                "city": sorted({fake.city() for _ in range(300)}),
            }
            if code == "ru_RU":
                pools["middle_m"] = sorted({fake.middle_name_male() for _ in range(300)})
                pools["middle_f"] = sorted({fake.middle_name_female() for _ in range(300)})
            self.by_locale[code] = pools


class Generator:
    """Draws persons in households and their source records."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(f"linkage-synth:{seed}")
        self.pools = _Pools(seed)
        self._ids = 0
        self._serial = 0
        # Per record id, the kinds of noise it carries (for error breakdowns; drawing them
        # takes no extra random numbers, so records are the same with or without reading it).
        self.noise: dict[str, set[str]] = {}

    # -- persons ------------------------------------------------------------------------------

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def _address(self, locale: str, country: str) -> dict[str, str]:
        rng, pools = self.rng, self.pools.by_locale[locale]
        postcode = (f"{rng.choice('ABEGLMNSW')}{rng.randint(1, 20)} {rng.randint(1, 9)}"
                    f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
                    if country == "GB" else self._digits(6 if country == "RU" else 5))
        return {"house_number": str(rng.randint(1, 250)), "street": rng.choice(pools["street"]),
                "unit": f"Apt {rng.randint(1, 120)}" if rng.random() < 0.3 else "",
                "city": rng.choice(pools["city"]), "postcode": postcode, "region": "",
                "country": country}

    def _mobile(self, country: str) -> str:
        lead = {"GB": "7", "DE": "15", "FR": "6", "RU": "9"}[country]
        return DIAL[country] + lead + self._digits(9 - len(lead) + (1 if country == "RU" else 0))

    def _email(self, first: str, last: str) -> str:
        f, l = fold_name(transliterate(first, "bgn")) or "x", fold_name(transliterate(last, "bgn")) or "y"
        local = self.rng.choice((f"{f}.{l}", f"{f[0]}{l}", f"{l}.{f}", f"{f}{l}{self.rng.randint(1, 99)}"))
        return f"{local}{self.rng.randint(1, 999)}@{self.rng.choice(('example.com', 'example.net', 'mail.example'))}"

    def _person(self, household: Household, locale: str, country: str, sex: str, last: str,
                birth: date, first: str | None = None) -> Person:
        rng, pools = self.rng, self.pools.by_locale[locale]
        self._ids += 1
        first = first or rng.choice(pools[sex])
        middle = rng.choice(pools[f"middle_{sex}"]) if locale == "ru_RU" else (
            rng.choice(pools[rng.choice("fm")]) if rng.random() < 0.2 else "")
        maiden = None
        if sex == "f" and rng.random() < 0.15 and birth.year < 1995:
            maiden = rng.choice(pools["last_f"])
        moved = rng.random() < 0.25
        email = self._email(first, last) if rng.random() < 0.85 else None
        person = Person(
            id=self._ids, locale=locale, country=country, first=first, middle=middle, last=last,
            maiden=maiden, sex=sex, birth=birth, email=email,
            old_email=self._email(first, maiden or last) if email and rng.random() < 0.1 else None,
            mobile=self._mobile(country) if rng.random() < 0.85 else None,
            card=("63" + self._digits(14)) if rng.random() < 0.4 else None,
            address=household.address, old_address=self._address(locale, country) if moved else None,
            household=household,
        )
        household.members.append(person)
        return person

    def household(self) -> Household:
        """One household: a single person, a couple, or a family with children (and twins)."""
        rng = self.rng
        locale, country, _ = rng.choices(LOCALES, weights=[w for *_, w in LOCALES])[0]
        pools = self.pools.by_locale[locale]
        address = self._address(locale, country)
        home = DIAL[country] + self._digits(9 if country != "RU" else 10) if rng.random() < 0.35 else None
        house = Household(address, None, home)
        surname_m = rng.choice(pools["last_m"])
        surname_f = self._female_of(surname_m, locale)
        kind = rng.choices(("single", "couple", "family"), weights=(45, 30, 25))[0]
        born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 50 * 365))
        first_sex = rng.choice("fm")
        self._person(house, locale, country, first_sex, surname_f if first_sex == "f" else surname_m, born)
        if kind == "single":
            return house
        partner = date(born.year + rng.randint(-5, 5), rng.randint(1, 12), rng.randint(1, 28))
        other = "m" if first_sex == "f" else "f"
        self._person(house, locale, country, other, surname_f if other == "f" else surname_m, partner)
        if rng.random() < 0.4:
            mail = house.members[0]
            house.email = mail.email or self._email(mail.first, mail.last)
        if kind == "family":
            children = rng.randint(1, 3)
            twins = rng.random() < 0.12
            youngest = max(born.year, partner.year) + 20
            for i in range(children + (1 if twins else 0)):
                if twins and i == 1:
                    kid_birth = house.members[-1].birth
                else:
                    kid_birth = date(min(youngest + rng.randint(0, 18), 2010), rng.randint(1, 12),
                                     rng.randint(1, 28))
                sex = rng.choice("fm")
                self._person(house, locale, country, sex, surname_f if sex == "f" else surname_m, kid_birth)
        return house

    def _female_of(self, surname: str, locale: str) -> str:
        if locale != "ru_RU":
            return surname
        if surname.endswith(("ов", "ев", "ин", "ын")):
            return surname + "а"
        if surname.endswith("ский"):
            return surname[:-2] + "ая"
        return surname

    # -- records ------------------------------------------------------------------------------

    def _typo(self, text: str) -> str:
        rng = self.rng
        if len(text) < 3:
            return text
        i = rng.randrange(1, len(text) - 1)
        kind = rng.random()
        if kind < 0.3:
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        if kind < 0.55:
            return text[:i] + text[i + 1:]
        if kind < 0.8:
            return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1:]
        return text[:i] + text[i] + text[i:]

    def _name(self, person: Person, text: str, source: str, cyrillic_ok: bool) -> str:
        if person.locale == "ru_RU" and not (cyrillic_ok and source in ("crm", "loyalty", "call_center")
                                              and self.rng.random() < 0.7):
            text = transliterate(text, self.rng.choice(tuple(_TRANSLIT)))
        return text

    def _birth(self, birth: date, source: str) -> str:
        rng = self.rng
        text = birth.strftime(DATE_FORMATS[source])
        roll = rng.random()
        if roll < 0.02 and birth.day <= 12:
            return date(birth.year, birth.day, birth.month).strftime(DATE_FORMATS[source])
        if roll < 0.05:
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            i = rng.choice(digits[:-1])
            if i + 1 in digits:
                chars = list(text)
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
                return "".join(chars)
        if roll < 0.06:
            return "31/02/" + str(birth.year) if source == "web" else text
        return text

    def _phone(self, number: str, country: str) -> str:
        rng = self.rng
        roll = rng.random()
        national = number[len(DIAL[country]):]
        if roll < 0.35:
            return ("8 " if country == "RU" else "0") + national
        if roll < 0.45:
            return "00" + number[1:]
        if roll < 0.47:
            return self._typo(number)
        return number

    def records(self, person: Person, dup_rate: float = 0.08) -> Iterator[dict[str, Any]]:
        """The person's records in the systems that know them."""
        rng = self.rng
        sources = [s for s in SOURCES if rng.random() < SOURCE_SHARE[s]] or [rng.choice(SOURCES)]
        if person.card and "loyalty" not in sources and rng.random() < 0.7:
            sources.append("loyalty")
        if len(sources) > 5:
            sources = rng.sample(sources, 5)
        if rng.random() < dup_rate:
            sources.append(rng.choice(sources))
        for source in sources:
            yield self._record(person, source)

    def _record(self, person: Person, source: str) -> dict[str, Any]:
        rng = self.rng
        house = person.household
        tags: set[str] = set()
        old = rng.random() < 0.5
        address = person.old_address if old and person.old_address else person.address
        if address is person.old_address:
            tags.add("moved")
        first = person.first
        fold = fold_name(transliterate(first, "icao") if person.locale == "ru_RU" else first)
        if fold in NICK and rng.random() < 0.3:
            first = NICK[fold] if person.locale != "ru_RU" or rng.random() < 0.5 else first
            if first != person.first:
                tags.add("nickname")
        last = person.maiden if person.maiden and old else person.last
        if last != person.last:
            tags.add("maiden")
        email = person.old_email if person.old_email and old else person.email
        if email and email != person.email:
            tags.add("old_email")
        if house.email and source in ("web", "email", "orders") and rng.random() < 0.4:
            email = house.email
            if email != person.email:
                tags.add("household_email")
        phone = person.mobile
        if house.phone and source in ("crm", "call_center", "orders") and (not phone or rng.random() < 0.5):
            phone = house.phone
            tags.add("household_phone")
        values: dict[str, Any] = {
            "first_name": self._name(person, first, source, True),
            "middle_name": self._name(person, person.middle, source, True) if person.middle else "",
            "last_name": self._name(person, last, source, True),
            "birth_date": self._birth(person.birth, source),
            "sex": {"f": "F", "m": "M"}[person.sex] if rng.random() < 0.9 else person.sex,
            "email": email or "",
            "phone": self._phone(phone, person.country) if phone else "",
            "loyalty_card": person.card or "",
            **address,
        }
        if person.locale == "ru_RU":
            tags.add("transliteration" if values["last_name"].isascii() else "cyrillic")
        if values["birth_date"] != person.birth.strftime(DATE_FORMATS[source]) and "birth_date" in SOURCE_FIELDS[source]:
            tags.add("birth_date_noise")
        if len(house.members) > 1:
            tags.add("household")
        if any(p is not person and p.birth == person.birth for p in house.members):
            tags.add("twin")
        self._serial += 1
        record: dict[str, Any] = {"record_id": f"r{self._serial}", "source": source}
        for key in SOURCE_FIELDS[source]:
            value = values.get(key, "")
            if value and rng.random() < 0.05:
                value = ""  # missing
                tags.add("missing_field")
            record[key] = value
        for key, rate in (("first_name", 0.03), ("last_name", 0.03), ("street", 0.03), ("email", 0.01)):
            if record.get(key) and rng.random() < rate:
                record[key] = self._typo(str(record[key]))
                tags.add("typo")
        if record.get("first_name") and record.get("last_name") and rng.random() < 0.02:
            record["first_name"], record["last_name"] = record["last_name"], record["first_name"]
            tags.add("swapped_names")
        if record.get("email") and rng.random() < 0.1:
            record["email"] = str(record["email"]).upper() if rng.random() < 0.5 else str(record["email"]).title()
        self.noise[record["record_id"]] = tags
        return record


def generate(records: int, seed: int = 1, *, noise: dict[str, set[str]] | None = None,
             ) -> tuple[list[dict[str, Any]], list[int], list[Person]]:
    """About `records` source records (exactly that many, in shuffled order), each one's
    person id, and the persons. `noise`, when given, receives each record id's noise kinds."""
    gen = Generator(seed)
    if noise is not None:
        gen.noise = noise
    out: list[dict[str, Any]] = []
    truth: list[int] = []
    persons: list[Person] = []
    while len(out) < records:
        house = gen.household()
        for person in house.members:
            persons.append(person)
            for record in gen.records(person):
                out.append(record)
                truth.append(person.id)
    order = list(range(records))
    gen.rng.shuffle(order)
    return [out[i] for i in order], [truth[i] for i in order], persons
