"""Normalisers: how a raw value becomes the form the matcher compares.

Each works on one value and is applied to the distinct values of a column only (a million
records hold a few thousand distinct first names), so they can be plain Python. Nothing
here stores anything: the results live in memory for one run, or as blind-index digests.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

from gateway.linkage.nicknames import build_nicknames

# Cyrillic -> Latin, close to the passport (ICAO 9303) scheme; variants of other schemes
# are collapsed afterwards by `skeleton`.
_CYR = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
    ("a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p",
     "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "iu", "ia",
     "i", "i", "e", "g"),
    strict=True,
))
_SPECIAL = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "þ": "th"}
_UMLAUT = {"ä": "ae", "ö": "oe", "ü": "ue"}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_NON_DIGIT = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")


_TO_LATIN = str.maketrans({**_CYR, **_SPECIAL})
_TO_LATIN_UMLAUTS = str.maketrans({**_CYR, **_SPECIAL, **_UMLAUT})


def _latin(text: str, umlauts: bool) -> str:
    """Lower-case ASCII of `text`: Cyrillic transliterated, special letters spelled out,
    accents dropped (ASCII text, the common case, passes through at C speed)."""
    low = text.lower()
    if low.isascii():
        return low
    mapped = low.translate(_TO_LATIN_UMLAUTS if umlauts else _TO_LATIN)
    return unicodedata.normalize("NFKD", mapped).encode("ascii", "ignore").decode("ascii")


def fold_name(value: str | None) -> str:
    """Lower-case ASCII letters only: Cyrillic transliterated, accents dropped."""
    if not value:
        return ""
    return "".join(c for c in _latin(value, umlauts=False) if c.isalpha())


# Spelling variants between transliteration schemes (and common English/German/French
# spellings): applied in order to a folded name, they give one skeleton per name.
_SKELETON_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r) for p, r in (
        (r"shch|sch|shh", "s"), (r"x", "ks"), (r"kh|ch|h", "h"), (r"zh", "j"),
        (r"ph", "f"), (r"w", "v"), (r"ck|q|c(?=[^ehiy]|$)", "k"), (r"c", "s"),
        (r"ts|tz|z", "s"), (r"th", "t"), (r"sh", "s"),
        (r"(?<=[aeiou])(iy|ii|yi|y|ij|ei|ey|ai|ay)$", ""), (r"(iy|ii|yi|ij|y)$", "i"),
        (r"^(ye|ie|je)", "e"), (r"(yu|iu|ju)", "u"), (r"(ya|ia|ja)", "a"), (r"(yo|io|jo)", "o"),
        (r"[yj]", "i"), (r"(.)\1+", r"\1"), (r"(?<=.)[aeiou]+", ""),
    )
)


@lru_cache(maxsize=200_000)
def skeleton(folded: str) -> str:
    """A coarse key under which transliteration variants of a name meet.

    Yuri / Iurii / Jurij, Aleksandr / Alexander, Natalya / Nataliia, Khrushchev /
    Hrushchev share one skeleton. Used as one comparison level and blocking key among
    others, never alone as proof.
    """
    text = folded
    for pattern, replacement in _SKELETON_RULES:
        text = pattern.sub(replacement, text)
    return text


_NICKNAMES = build_nicknames(fold_name)


def formal_name(folded: str) -> str:
    """The formal first name a folded first name stands for (itself when unknown)."""
    if not folded:
        return ""
    return skeleton(_NICKNAMES.get(folded, folded))


_STREET_WORDS = {
    "st": "street", "str": "strasse", "rd": "road", "ave": "avenue", "av": "avenue",
    "dr": "drive", "ln": "lane", "ct": "court", "pl": "place", "sq": "square", "cres": "crescent",
    "hwy": "highway", "pde": "parade", "tce": "terrace", "cl": "close", "blvd": "boulevard",
    "ul": "ulitsa", "pr": "prospekt", "pr-t": "prospekt", "bd": "boulevard", "bis": "",
    "strasse": "strasse", "straße": "strasse", "r": "rue",
}


def fold_text(value: str | None) -> str:
    """Lower-case ASCII words separated by single spaces (addresses, cities)."""
    if not value:
        return ""
    return _SPACES.sub(" ", _NON_ALNUM.sub(" ", _latin(value, umlauts=True))).strip()


def fold_street(value: str | None) -> str:
    """A street name with its abbreviations spelled out and house numbers dropped."""
    words = [w for w in fold_text(value).split() if not w.isdigit()]
    return " ".join(_STREET_WORDS.get(w, w) for w in words if _STREET_WORDS.get(w, w))


def house_number(value: str | None) -> str:
    """The house number's leading digits and letter (`12a`), lower-case."""
    text = fold_text(value).replace(" ", "")
    match = re.match(r"\d+[a-z]?", text)
    return match.group(0) if match else text[:8]


def postcode(value: str | None) -> str:
    """Upper-case letters and digits only."""
    return str(_NON_ALNUM.sub("", fold_text(value)).upper()) if value else ""


def email(value: str | None) -> str:
    """The canonical form of an address: lower-case, `+tag` dropped, Gmail dots dropped."""
    if not value:
        return ""
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain:
        return ""
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else ""


_DIAL = {"GB": "44", "UK": "44", "DE": "49", "FR": "33", "RU": "7", "US": "1", "AU": "61",
         "IT": "39", "ES": "34", "NL": "31", "BE": "32", "AT": "43", "CH": "41", "PL": "48",
         "UA": "380", "KZ": "7", "BY": "375", "IE": "353", "SE": "46", "NO": "47", "DK": "45"}


def phone(value: str | None, country: str | None = None) -> str:
    """E.164 where the country is known (`+447700900123`), else the digits as given.

    A national number (`07700 900123`, `8 (912) 345-67-89`) takes the dial code of the
    record's country; `00` becomes `+`.
    """
    if not value:
        return ""
    text = value.strip()
    digits = _NON_DIGIT.sub("", text)
    if len(digits) < 5:
        return ""
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    dial = _DIAL.get((country or "").strip().upper())
    if dial == "7" and len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if dial and digits.startswith("0"):
        return "+" + dial + digits.lstrip("0")
    if dial and not digits.startswith(dial):
        return "+" + dial + digits
    return ("+" + digits) if dial else digits


def phone_tail(e164: str) -> str:
    """The last nine digits: the subscriber part, whatever the country code was written as."""
    digits = e164.lstrip("+")
    return digits[-9:] if len(digits) >= 7 else ""


def country(value: str | None) -> str:
    """An ISO 3166 alpha-2 code where recognisable (upper-case), else the folded text."""
    text = fold_text(value)
    names = {"united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB",
             "germany": "DE", "deutschland": "DE", "france": "FR", "russia": "RU",
             "rossiia": "RU", "russian federation": "RU", "australia": "AU",
             "united states": "US", "usa": "US"}
    if len(text) == 2:
        return text.upper()
    return names.get(text, text.upper()[:2] if text else "")


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_MONTHS.update({"janv": 1, "fevr": 2, "mars": 3, "avr": 4, "mai": 5, "juin": 6, "juil": 7,
                "aout": 8, "sept": 9, "okt": 10, "dez": 12, "mrz": 3, "maerz": 3, "juni": 6,
                "juli": 7, "janvaria": 1, "fevralia": 2, "marta": 3, "aprelia": 4, "maia": 5,
                "iiunia": 6, "iiulia": 7, "avgusta": 8, "sentiabria": 9, "oktiabria": 10,
                "noiabria": 11, "dekabria": 12})
_DATE_PARTS = re.compile(r"\d+|[a-z]+")


def _year(text: str, pivot: int) -> int:
    value = int(text)
    if len(text) <= 2:
        value += 1900 if value > pivot else 2000
    return value


def date_digits(value: str | None, day_first: bool = True, pivot: int = 30) -> str:
    """`YYYYMMDD` from a date in any common format, or "" when unreadable.

    ISO (`1980-03-07`), compact (`19800307`), European (`07.03.1980`, `07/03/1980`), US
    (`03/07/1980` when `day_first` is false or the day is above 12), named months
    (`7 Mar 1980`, `March 7, 1980`) and two-digit years (pivot: `30` -> 1930..2029). An
    impossible date (`1980-02-31`) keeps its digits: a typo in a birth date still compares.
    """
    if not value:
        return ""
    text = fold_text(str(value))
    parts: list[str] = _DATE_PARTS.findall(text.removesuffix(" 00 00 00"))  # a timestamp's midnight
    if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 8:
        p = parts[0]
        return p if 1800 <= int(p[:4]) <= 2100 else p[4:] + p[2:4] + p[:2]
    words = [p for p in parts if not p.isdigit()]
    nums = [p for p in parts if p.isdigit()]
    if words:
        month = next((_MONTHS.get(w[:4]) or _MONTHS.get(w[:3]) for w in words
                      if _MONTHS.get(w[:4]) or _MONTHS.get(w[:3])), None)
        if month is None or len(nums) != 2:
            return ""
        first, second = nums
        day, year = (first, second) if len(second) == 4 or len(first) <= 2 < len(second) else (
            (second, first) if len(first) == 4 else (first, second))
        return f"{_year(year, pivot):04d}{month:02d}{int(day):02d}"
    if len(nums) >= 3:
        a, b, c = nums[:3]
        if len(a) == 4:
            y, m, d = a, b, c
        elif day_first and int(a) <= 31 or int(a) > 12:
            d, m, y = a, b, c
        else:
            m, d, y = a, b, c
        if int(m) > 12 and int(d) <= 12:
            m, d = d, m
        full = _year(y, pivot)
        if not (1800 <= full <= 2100 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31):
            return ""
        return f"{full:04d}{int(m):02d}{int(d):02d}"
    return ""


def valid_date_digits(value: str | None, day_first: bool = True) -> str:
    """`date_digits` of a date that exists, else "": an impossible date (`31/02/1980`, a
    placeholder some forms store when the customer skips the field) says nothing about
    the person, and comparing it would count as a disagreement."""
    digits = date_digits(value, day_first)
    return digits if as_date(digits) is not None else ""


def as_date(digits: str) -> date | None:
    """The date of `YYYYMMDD` digits, or None when impossible."""
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) if len(digits) == 8 else None
    except ValueError:
        return None


def detect_day_first(values: list[str]) -> bool:
    """Whether slash/dot dates of a column put the day first (a value with a first part
    above 12 says so; one with a second part above 12 says month first; default: day)."""
    day = month = 0
    for value in values:
        nums = re.findall(r"\d+", value or "")
        if len(nums) >= 3 and len(nums[0]) <= 2 and len(nums[1]) <= 2:
            if int(nums[0]) > 12:
                day += 1
            elif int(nums[1]) > 12:
                month += 1
    return day >= month


def sex(value: str | None) -> str:
    """`f`, `m` or "" (unknown)."""
    text = fold_text(value)
    if not text:
        return ""
    if text[0] in "fwж" or text in ("female", "woman", "zhenskii", "zh"):
        return "f"
    if text[0] in "m" or text in ("male", "man", "muzhskoi"):
        return "m"
    return ""
