"""Phrase pools for resident descriptions and the PII planted in them.

Descriptions are assembled column-wise (numpy index draws + ``pl.concat_str``), never row by row.
Every string here is encodable in cp1252 because one feedback file is written in that encoding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from pipelines.generate.city import SERVICE_CODES

ISSUE_VARIANTS = 3
ISSUE_PHRASES: dict[str, tuple[str, str, str]] = {
    "POT": (
        "There is a deep pothole in the road",
        "Big pothole damaging cars",
        "Pothole keeps getting bigger",
    ),
    "SLT": (
        "The streetlight is out",
        "Street lamp flickering all night",
        "Dark stretch because the light is broken",
    ),
    "SDW": (
        "Cracked sidewalk is a trip hazard",
        "Sidewalk slabs lifted by roots",
        "Broken pavement, hard to pass with a stroller",
    ),
    "SNW": (
        "Snow has not been cleared",
        "Icy path, someone slipped this morning",
        "Snow plough skipped our street",
    ),
    "TSG": (
        "Traffic signal stuck on red",
        "Pedestrian signal not working",
        "Traffic lights are out at the junction",
    ),
    "PKE": (
        "Car parked across my driveway",
        "Vehicles parking in the bike lane",
        "Illegal parking blocking the hydrant",
    ),
    "ABV": (
        "Abandoned car with flat tyres",
        "Vehicle left unmoved for weeks",
        "Burnt-out car dumped by the curb",
    ),
    "BUS": ("Bus shelter glass smashed", "Bus stop sign knocked over", "Bench at the bus stop is broken"),
    "MWC": (
        "Our bins were not collected",
        "Recycling missed again this week",
        "Trash pickup skipped the whole block",
    ),
    "ILD": (
        "Mattresses dumped in the alley",
        "Someone dumped building waste",
        "Pile of rubbish left on the corner",
    ),
    "GRF": (
        "Graffiti sprayed on the wall",
        "Offensive graffiti on the underpass",
        "Tagging all over the shop fronts",
    ),
    "NOI": ("Loud music every night", "Construction noise before 7am", "Barking dog all day"),
    "TRE": (
        "Tree branch hanging over the road",
        "Fallen tree blocking the path",
        "Dead tree looks ready to fall",
    ),
    "PKM": ("Park toilets are filthy", "Grass in the park not mowed", "Broken fence in the park"),
    "PLY": ("Swing broken at the playground", "Sharp edge on the slide", "Playground surface torn up"),
    "RDT": ("Rats seen near the bins", "Rodents in the back yard", "Mice coming from the empty lot"),
    "HSC": ("Landlord will not fix the heating", "Mould in the apartment", "No hot water for a week"),
    "BLD": ("Building facade is crumbling", "Empty house with broken windows", "Scaffolding looks unsafe"),
    "WEB": (
        "The online form crashes on submit",
        "Cannot log in to the city website",
        "Payment page on the website fails",
    ),
    "APP": (
        "The city app freezes when I add a photo",
        "App will not load my reports",
        "Cannot find my street in the app",
    ),
    "REF": (
        "Not sure which department handles this",
        "Question about a city service",
        "I was sent from one office to another",
    ),
}
CONTEXT_PHRASES: tuple[str, ...] = (
    "",
    "near the school",
    "on the corner",
    "outside the library",
    "by the bus stop",
    "in front of my building",
    "along the main road",
    "next to the playground",
    "behind the supermarket",
    "across from the church",
)
NEGATIVE_PHRASES: tuple[str, ...] = (
    "Still not fixed after weeks.",
    "I reported this twice already and nobody came.",
    "Very disappointed with how long this is taking.",
    "This is unacceptable, the problem came back.",
    "Nobody has responded to my report.",
    "The so-called repair made it worse.",
    "Terrible service, I am really frustrated.",
    "Why does it take so long to fix something this simple?",
    "Awful. Closed without anything being done.",
    "I am angry that this keeps happening.",
)
POSITIVE_PHRASES: tuple[str, ...] = (
    "Thank you for the quick response!",
    "Great job, fixed within a day.",
    "The crew was friendly and helpful.",
    "Really appreciate the fast fix.",
    "Excellent service, thanks to the team.",
    "Happy with how this was handled.",
    "Thanks, the problem is solved.",
    "Impressed, good work by the city.",
    "Wonderful, much better now.",
    "Thanks for keeping us updated.",
)
NEUTRAL_PHRASES: tuple[str, ...] = (
    "Please send someone.",
    "Please take a look.",
    "Can this be checked?",
    "Reporting so it is on record.",
    "Please advise on next steps.",
)

# (display, ascii) pairs: display names include accented letters, emails use the ascii form.
FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Maria", "maria"),
    ("James", "james"),
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Aisha", "aisha"),
    ("Chen", "chen"),
    ("Renée", "renee"),
    ("Olumide", "olumide"),
    ("François", "francois"),
    ("Priya", "priya"),
    ("Tomás", "tomas"),
    ("Linda", "linda"),
    ("Ahmed", "ahmed"),
    ("Björn", "bjorn"),
    ("Grace", "grace"),
    ("Dmitri", "dmitri"),
    ("Inés", "ines"),
    ("Kevin", "kevin"),
    ("Fatima", "fatima"),
    ("Noah", "noah"),
)
LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Smith", "smith"),
    ("García", "garcia"),
    ("Nguyen", "nguyen"),
    ("Müller", "muller"),
    ("Johnson", "johnson"),
    ("O'Brien", "obrien"),
    ("Okafor", "okafor"),
    ("Núñez", "nunez"),
    ("Kowalski", "kowalski"),
    ("Patel", "patel"),
    ("Brown", "brown"),
    ("Søndergaard", "sondergaard"),
    ("Williams", "williams"),
    ("Lefèvre", "lefevre"),
    ("Kim", "kim"),
    ("Haddad", "haddad"),
)
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "mail.example.net", "example.edu")
STREETS: tuple[str, ...] = (
    "Elm",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Walnut",
    "Lincoln",
    "Washington",
    "Jefferson",
    "Madison",
    "Lake",
    "Hill",
    "Park",
    "River",
    "Church",
    "Mill",
    "Spring",
    "Union",
    "Prairie",
    "Sycamore",
)
STREET_SUFFIXES: tuple[str, ...] = (
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Drive",
    "Court",
    "Place",
    "Boulevard",
)

# Planted once each in the first generated day (both formats); none may reach the warehouse.
CANARY_EMAIL = "canary.resident.7319@example.net"
CANARY_PHONE = "217-555-7319"
CANARY_PERSON = "Wilhelmina Canarybrook"
CANARY_ADDRESS = "4417 Canary Crescent"
CANARY_REPORTER_NAME = "Bartholomew Quillfeather"
CANARY_REPORTER_EMAIL = "b.quillfeather.canary@example.org"
PII_CANARIES: tuple[str, ...] = (
    CANARY_EMAIL,
    CANARY_PHONE,
    CANARY_PERSON,
    CANARY_ADDRESS,
    CANARY_REPORTER_NAME,
    CANARY_REPORTER_EMAIL,
)
CANARY_DESCRIPTION = (
    f"Please ask {CANARY_PERSON} about the flooding at {CANARY_ADDRESS}, "
    f"reach me at {CANARY_EMAIL} or {CANARY_PHONE}."
)

# Non-ASCII reporter names forced into the cp1252 file so that it cannot pass as UTF-8 or ASCII.
CP1252_NAMES: tuple[str, ...] = ("Zoë Lefèvre", "José Núñez", "Renée Müller")


@lru_cache(maxsize=128)
def _pool_series(pool: tuple[str, ...]) -> pl.Series:
    return pl.Series(pool, dtype=pl.String)


def pick(pool: tuple[str, ...], index: np.ndarray) -> pl.Series:
    """The pool entries at ``index`` as a string Series (vectorised gather)."""
    return _pool_series(pool).gather(index)


def issue_phrases(service_index: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """One issue sentence per request, drawn among its service's variants."""
    flat = tuple(phrase for code in SERVICE_CODES for phrase in ISSUE_PHRASES[code])
    variant = rng.integers(0, ISSUE_VARIANTS, size=service_index.size)
    return pick(flat, service_index * ISSUE_VARIANTS + variant)


def person_names(rng: np.random.Generator, size: int) -> tuple[pl.Series, pl.Series]:
    """(display name, email address) pairs for ``size`` made-up people."""
    first = rng.integers(0, len(FIRST_NAMES), size=size)
    last = rng.integers(0, len(LAST_NAMES), size=size)
    number = pl.Series(rng.integers(1, 100, size=size)).cast(pl.String)
    display = (
        pick(tuple(f for f, _ in FIRST_NAMES), first)
        + " "
        + pick(tuple(surname for surname, _ in LAST_NAMES), last)
    )
    email = (
        pick(tuple(a for _, a in FIRST_NAMES), first)
        + "."
        + pick(tuple(a for _, a in LAST_NAMES), last)
        + number
        + "@"
        + pick(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), size=size))
    )
    return display, email


def phone_numbers(rng: np.random.Generator, size: int) -> pl.Series:
    """US-style numbers in three common spellings (555 exchange: never a real line)."""
    line = pl.Series(rng.integers(0, 10_000, size=size)).cast(pl.String).str.zfill(4)
    area = pick(("217", "309", "618"), rng.integers(0, 3, size=size))
    style = rng.integers(0, 3, size=size)
    frame = pl.DataFrame({"area": area, "line": line, "style": style})
    return frame.select(
        pl.when(pl.col("style") == 0)
        .then(pl.format("({}) 555-{}", "area", "line"))
        .when(pl.col("style") == 1)
        .then(pl.format("{}-555-{}", "area", "line"))
        .otherwise(pl.format("+1 {} 555 {}", "area", "line"))
    ).to_series()


def street_addresses(rng: np.random.Generator, size: int) -> pl.Series:
    """Addresses such as "12 Elm Street"."""
    number = pl.Series(rng.integers(1, 2_400, size=size)).cast(pl.String)
    street = pick(STREETS, rng.integers(0, len(STREETS), size=size))
    suffix = pick(STREET_SUFFIXES, rng.integers(0, len(STREET_SUFFIXES), size=size))
    return number + " " + street + " " + suffix
