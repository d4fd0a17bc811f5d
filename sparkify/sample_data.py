"""Synthetic Sparkify source data, in exactly the layout and bytes of the real thing.

The real source (``s3://udacity-dend/``) is too big to ship and too small in
variety to test with: its 8,056 sample events match the catalogue once. This
module writes a source folder of any size that looks like the real one, byte
for byte, and that holds every quirk the loader must take as normal (see
docs/data-contract.md#source-layout)::

    OUT_DIR/song_data/A/B/C/TRABCxx128F4xxxxxx.json   one song per file
    OUT_DIR/log_data/2018/11/2018-11-01-events.json  one file a day, one event a line
    OUT_DIR/log_json_path.json                        the Redshift COPY JSONPaths file

What the real data does, this does too: logged-out events with userId ""
and null user fields; nulls for the song of non-NextSong pages; userId as a
string, registration as a float and ts in epoch milliseconds; songs of year
0, with an empty location or null coordinates; names and titles in any
script, emoji included, escaped as ``\\uXXXX``; an artist id spelled several
ways ("X feat. Y") from several places; users who upgrade and downgrade; two
events in the same millisecond; log files without a final newline (all but
the last day's, as in the real data). Most plays match no catalogue song;
some match exactly, some are 0.005 s off (still a match) and some 0.02 s off
or in the wrong case (no match).

The same seed and arguments always give the same bytes: all randomness comes
from one ``random.Random(seed)``, and nothing depends on dict or set order,
the clock or hash randomisation.

Use it from Python::

    from sparkify.sample_data import generate
    summary = generate("/tmp/source", songs=1000, events=20000, days=30, seed=1)

or from the command line (``--help`` explains each option)::

    python -m sparkify.sample_data /tmp/source --songs 100000 --events 1000000

The sample bundled with the project, ``data/sample/``, is regenerated with::

    python -m sparkify.sample_data data/sample --songs 300 --events 3000 --days 30 --seed 42 --start 2018-11-01 --replace
"""

import argparse
import datetime
import itertools
import json
import math
import os
import random
import shutil
import string
import sys
import time
from collections import deque
from dataclasses import dataclass

# The keys of a song file and of a log event, in the order the real files have them.
SONG_KEYS = (
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location",
    "artist_name", "song_id", "title", "duration", "year",
)
EVENT_KEYS = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
)

# The real log_json_path.json, character for character.
LOG_JSON_PATH = """{
    "jsonpaths": [
        "$['artist']",
        "$['auth']",
        "$['firstName']",
        "$['gender']",
        "$['itemInSession']",
        "$['lastName']",
        "$['length']",
        "$['level']",
        "$['location']",
        "$['method']",
        "$['page']",
        "$['registration']",
        "$['sessionId']",
        "$['song']",
        "$['status']",
        "$['ts']",
        "$['userAgent']",
        "$['userId']"
    ]
}
"""

DEFAULT_SONGS = 300
DEFAULT_EVENTS = 3000
DEFAULT_DAYS = 30
DEFAULT_SEED = 42
DEFAULT_START = "2018-11-01"

# The event simulator's clock ticks in whole seconds from an origin 796 ms
# past a second: every real ts and registration ends in 796.
CLOCK_MILLISECONDS = 796
DAY_MILLISECONDS = 86_400_000

# The real song_data holds about eight files a folder; keeping that ratio
# keeps a small sample small on disk (each folder costs a 4 kB block).
SONGS_PER_FOLDER = 8

# Longest session, in events, and the longest gap between two of its events,
# in seconds (the longest song is shorter). Together they bound how long a
# session lasts, so that every session can be started early enough to end
# inside the period.
LONGEST_SESSION = 100
LONGEST_GAP_SECONDS = 650
LONGEST_SONG_SECONDS = 640

# Every how many plays the generator slips in a play of each special kind, so
# that even a small sample has them; the rest are drawn at random.
PLAY_CYCLE = 50
# Every how many sessions one is made to change the user's level.
LEVEL_CHANGE_CYCLE = 25
# Every how many sessions one starts in the same millisecond as another.
SAME_START_CYCLE = 15

# ---------------------------------------------------------------------------
# The app: pages, and what the user does next
# ---------------------------------------------------------------------------

# (method, status) of each page, as in the real logs.
PAGE_REQUESTS = {
    "NextSong": ("PUT", 200),
    "Home": ("GET", 200),
    "Login": ("PUT", 307),
    "Logout": ("PUT", 307),
    "Settings": ("GET", 200),
    "Save Settings": ("PUT", 307),
    "Upgrade": ("GET", 200),
    "Submit Upgrade": ("PUT", 307),
    "Downgrade": ("GET", 200),
    "Submit Downgrade": ("PUT", 307),
    "About": ("GET", 200),
    "Help": ("GET", 200),
    "Error": ("GET", 404),
    "Add to Playlist": ("PUT", 200),
    "Add Friend": ("PUT", 307),
    "Thumbs Up": ("PUT", 307),
    "Thumbs Down": ("PUT", 307),
    "Roll Advert": ("GET", 200),
}

# What a logged-in user clicks next, roughly in percent. Free users see adverts and
# the Upgrade page; paid users see the Downgrade page instead.
FREE_USER_PAGES = {
    "NextSong": 81, "Home": 6, "Thumbs Up": 3, "Roll Advert": 3, "Add to Playlist": 1.5,
    "Upgrade": 1.5, "Logout": 1.2, "Add Friend": 1, "Thumbs Down": 0.8, "Settings": 0.7,
    "Help": 0.6, "About": 0.4, "Error": 0.1,
}
PAID_USER_PAGES = {
    "NextSong": 85, "Home": 5, "Thumbs Up": 3.5, "Add to Playlist": 2, "Downgrade": 1.5,
    "Add Friend": 1.2, "Logout": 1, "Thumbs Down": 0.8, "Settings": 0.7, "Help": 0.5,
    "About": 0.3, "Error": 0.1,
}
# What a logged-out visitor clicks next.
LOGGED_OUT_PAGES = {"Login": 50, "Home": 35, "About": 10, "Help": 5}

# ---------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------

FIRST_NAMES = (
    "Walter", "Kaylee", "Lily", "Jacob", "Chloe", "Tegan", "Aleena", "Jayden", "Ryan", "Kinsley",
    "Sophia", "Mohammad", "Layla", "Matthew", "Ava", "Brayden", "Jordyn", "Cienna", "Harper",
    "Wyatt", "Rylan", "Celeste", "Emily", "Noah", "Isaac", "Zoë", "José", "Chloé", "Renée",
    "Björn", "Søren", "Anaïs", "Jiahui", "Dmitri", "Amara", "Mateo", "Aiko", "Priya", "Olivia",
)
LAST_NAMES = (
    "Frye", "Summers", "Koch", "Garrison", "Cuevas", "Levine", "Solomon", "Graham", "Smith",
    "Harrell", "Patel", "Rodriguez", "Williams", "Owens", "Robinson", "Bell", "Cruz", "Johnson",
    "Hoffman", "Jones", "Thornton", "Lynch", "Reilly", "Chen", "Nguyen", "Müller", "García",
    "Núñez", "O'Brien", "Kowalski", "Yamamoto", "Okafor", "Larsen", "Dubois", "Rossi",
)
USER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA", "Portland-South Portland, ME", "Lansing-East Lansing, MI",
    "Chicago-Naperville-Elgin, IL-IN-WI", "Atlanta-Sandy Springs-Roswell, GA", "Waterloo-Cedar Falls, IA",
    "Lake Havasu City-Kingman, AZ", "San Jose-Sunnyvale-Santa Clara, CA", "Tampa-St. Petersburg-Clearwater, FL",
    "New York-Newark-Jersey City, NY-NJ-PA", "Sacramento--Roseville--Arden-Arcade, CA", "Janesville-Beloit, WI",
    "Birmingham-Hoover, AL", "Winston-Salem, NC", "Phoenix-Mesa-Scottsdale, AZ", "Houston-The Woodlands-Sugar Land, TX",
    "Red Bluff, CA", "Marinette, WI-MI", "Detroit-Warren-Dearborn, MI", "Dallas-Fort Worth-Arlington, TX",
    "Los Angeles-Long Beach-Anaheim, CA", "Seattle-Tacoma-Bellevue, WA", "Mayagüez, PR", "Eugene, OR",
)
# Real user agents: most are wrapped in double quotes, some are not.
USER_AGENTS = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) '
    'Version/7.0.6 Safari/537.78.2"',
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 '
    'Chrome/36.0.1985.125 Safari/537.36"',
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36"',
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) '
    'Version/7.0 Mobile/11D257 Safari/9537.53"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; WOW64; Trident/6.0)",
)

ADJECTIVES = (
    "Blue", "Broken", "Electric", "Golden", "Lonely", "Wild", "Silent", "Crazy", "Sweet", "Dark",
    "Little", "Burning", "Velvet", "Frozen", "Lost", "Midnight", "Hollow", "Shiny", "Restless", "Fading",
)
NOUNS = (
    "Heart", "River", "Night", "Fire", "Dream", "Road", "Rain", "Star", "Love", "Ghost", "Train",
    "Shadow", "Summer", "Angel", "Machine", "Highway", "Ocean", "Mirror", "Garden", "Thunder", "City",
    "Window", "Desert", "Radio", "Tiger", "Moon", "Kiss", "Secret", "Storm", "Wire",
)
VERBS = ("Dancing", "Running", "Falling", "Waiting", "Coming", "Walking", "Flying", "Dreaming", "Crying", "Holding")
PLACES_IN_TITLES = ("Home", "Tonight", "Forever", "Away", "Again", "Alone", "Down", "Together", "Slowly")
TITLE_SUFFIXES = ("", "", "", "", " (Album Version)", " (Remix)", " (Live)", " (Radio Edit)", " (LP Version)")

# Names and titles outside ASCII: accented Latin, other scripts, emoji, and
# characters that JSON escapes ("/" in the logs, double quotes everywhere).
UNICODE_ARTISTS = (
    "Björk", "Sigur Rós", "Beyoncé", "Mötley Crüe", "José González", "Céline Dion", "Ólafur Arnalds",
    "Françoise Hardy", "Antônio Carlos Jobim", "Motörhead", "坂本龍一", "宇多田ヒカル", "周杰倫",
    "Кино", "Μίκης Θεοδωράκης", "فيروز", "Rionegro / Solimões", "Los Ángeles Azules", "DJ 🎧 Snake",
)
UNICODE_TITLES = (
    "Clementina Santafè", "¿Dónde va Chichi?", "Niño Soldado", "Représente", "Déjà Vu", "Für Elise",
    "Sincerité Et Jalousie", "Mañana", "Café Del Mar", "São Paulo à Belém", "さくら", "東京",
    "月亮代表我的心", "사랑해", "Звезда по имени Солнце", "Heartbreak 💔 Hotel", "Bailando 💃",
    "Sunshine ☀️", "🎵 Intro", 'Do the "Hustle"', "AC/DC Tribute", "Naïve Song",
)
FEATURING = (" feat. ", " Feat. ", " featuring ", " & ", ";", " / ")

# Where artists come from: a few spellings of each place, and its coordinates.
ARTIST_PLACES = (
    (("Nashville, TN", "Nashville, TN.", "Nashville"), 36.16778, -86.77836),
    (("California - SF", "San Francisco, CA", "San Francisco"), 37.77916, -122.42005),
    (("California - LA", "Los Angeles, CA", "LA"), 34.05349, -118.24532),
    (("New York, NY", "NY - New York City", "New York"), 40.71455, -74.00712),
    (("Denmark", "Copenhagen, Denmark"), 56.27609, 9.51695),
    (("Zagreb Croatia", "Zagreb, Croatia"), 45.80726, 15.9676),
    (("Gainesville, FL", "Gainesville"), 29.65163, -82.32483),
    (("Hamtramck, MI", "Detroit, MI"), 42.39282, -83.04964),
    (("London, England", "London", "UK - England - London"), 51.50632, -0.12714),
    (("Chicago, IL", "Chicago"), 41.88415, -87.63241),
    (("Reykjavík, Iceland", "Iceland"), 64.13547, -21.89523),
    (("São Paulo, Brazil", "Sao Paulo - Brazil"), -23.56287, -46.65456),
    (("Montréal, Québec", "Montreal, Canada"), 45.51228, -73.55439),
    (("Tōkyō, Japan", "Tokyo, Japan", "東京"), 35.68956, 139.69185),
    (("Kingston, Jamaica", "Jamaica"), 17.99730, -76.79330),
    (("Austin, TX", "Austin"), 30.26715, -97.74306),
    (("Paris, France", "France"), 48.85693, 2.3412),
    (("Berlin, Germany", "Germany"), 52.52437, 13.41053),
)

# Tails of real ids after the five letters: "TRAAAAW" + "128F429D538".
TRACK_ID_MIDDLES = ("128F4", "128F9", "12903", "128E0", "128F1")
SONG_ID_MIDDLES = ("12A8C", "12AB0", "12A6D", "12A67", "12A58", "12AF7", "12AC9")
ARTIST_ID_MIDDLES = ("1187B", "1187F", "11E28", "1241B", "1269F", "12298")
HEX_DIGITS = "0123456789ABCDEF"
UPPERCASE = string.ascii_uppercase
UPPERCASE_AND_DIGITS = string.ascii_uppercase + string.digits


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------


def song_file_text(song):
    """A song file's text: Python's json.dumps defaults, no trailing newline, as the real files."""
    return json.dumps(song)


def event_line(event):
    """One log line: compact JSON with ``/`` escaped as ``\\/`` and non-ASCII as ``\\uXXXX``.

    ``/`` only ever occurs inside strings, so replacing it in the encoded text is safe.
    """
    return json.dumps(event, separators=(",", ":")).replace("/", "\\/")


def log_file_text(lines, last_file):
    """A day's log text. The real files end without a newline, all but the last day's."""
    text = "\n".join(lines)
    if last_file and lines:
        text += "\n"
    return text


def mojibake(text):
    """Text UTF-8-encoded and read back as Latin-1 twice, as the real logs mangle
    "Björk" into "BjÃ\\x83Â¶rk": such plays never match the catalogue."""
    return text.encode("utf-8").decode("latin-1").encode("utf-8").decode("latin-1")


# ---------------------------------------------------------------------------
# Ids and names
# ---------------------------------------------------------------------------


def random_letters(rng, alphabet, count):
    return "".join(rng.choices(alphabet, k=count))


def new_id(rng, taken, make):
    """An id from ``make(rng)`` that is not yet in ``taken``; remembers it."""
    while True:
        ident = make(rng)
        if ident not in taken:
            taken.add(ident)
            return ident


def folder_names(songs):
    """The three-letter folders to spread ``songs`` files over: AAA, AAB, ... in order,
    as the real sample is the start of the sorted tree."""
    count = min(26**3, max(1, math.ceil(songs / SONGS_PER_FOLDER)))
    return [UPPERCASE[n // 676] + UPPERCASE[n // 26 % 26] + UPPERCASE[n % 26] for n in range(count)]


def track_id(rng, folders):
    """``TR`` + five letters (the first three name the folder) + 11 hex-ish characters."""
    return (
        "TR" + rng.choice(folders) + random_letters(rng, UPPERCASE, 2)
        + rng.choice(TRACK_ID_MIDDLES) + random_letters(rng, HEX_DIGITS, 6)
    )


def song_id(rng):
    return "SO" + random_letters(rng, UPPERCASE, 5) + rng.choice(SONG_ID_MIDDLES) + random_letters(rng, HEX_DIGITS, 6)


def artist_id(rng):
    return (
        "AR" + random_letters(rng, UPPERCASE_AND_DIGITS, 5)
        + rng.choice(ARTIST_ID_MIDDLES) + random_letters(rng, HEX_DIGITS, 6)
    )


def artist_name(rng):
    """A made-up band or singer; now and then one from outside ASCII."""
    if rng.random() < 0.08:
        return rng.choice(UNICODE_ARTISTS)
    pattern = rng.randrange(6)
    if pattern == 0:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if pattern == 1:
        return f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}s"
    if pattern == 2:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if pattern == 3:
        return f"DJ {rng.choice(NOUNS)}"
    if pattern == 4:
        return f"{rng.choice(LAST_NAMES)} & The {rng.choice(NOUNS)}s"
    return f"{rng.choice(NOUNS)}{rng.choice(('', 's', ' Inc.', ' Project'))}"


def song_title(rng):
    """A made-up title; now and then one from outside ASCII."""
    if rng.random() < 0.08:
        return rng.choice(UNICODE_TITLES)
    pattern = rng.randrange(5)
    if pattern == 0:
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    elif pattern == 1:
        title = f"{rng.choice(VERBS)} {rng.choice(PLACES_IN_TITLES)}"
    elif pattern == 2:
        title = f"The {rng.choice(NOUNS)} Of {rng.choice(NOUNS)}s"
    elif pattern == 3:
        title = f"{rng.choice(NOUNS)} {rng.choice(('Song', 'Blues', 'Dance', 'Girl', 'Boy', 'Town'))}"
    else:
        title = f"{rng.choice(VERBS)} In The {rng.choice(NOUNS)}"
    return title + rng.choice(TITLE_SUFFIXES)


def song_length(rng):
    """A duration in seconds with five decimals, as in the real data (median near 4 minutes)."""
    while True:
        seconds = rng.lognormvariate(5.4, 0.4)
        if 20 <= seconds <= LONGEST_SONG_SECONDS:
            return round(seconds, 5)


# ---------------------------------------------------------------------------
# The song catalogue
# ---------------------------------------------------------------------------


@dataclass
class Artist:
    artist_id: str
    name: str
    place: tuple | None  # an entry of ARTIST_PLACES, or None: no known location


def new_artist(rng, artist_ids):
    place = rng.choice(ARTIST_PLACES) if rng.random() < 0.6 else None
    return Artist(new_id(rng, artist_ids, artist_id), artist_name(rng), place)


def credited_name(rng, artist):
    """The artist's name as one song file spells it: mostly plain, sometimes with a guest."""
    if rng.random() < 0.25:
        return artist.name + rng.choice(FEATURING) + artist_name(rng)
    return artist.name


def song_record(rng, artist, name, the_song_id):
    """One song file's object, keys in the real order.

    As in the real files, an artist with a known place has it spelled one of a
    few ways, sometimes without coordinates and now and then not at all; an
    empty location never has coordinates.
    """
    location, latitude, longitude = "", None, None
    if artist.place and rng.random() < 0.9:
        spellings, place_latitude, place_longitude = artist.place
        location = rng.choice(spellings)
        if rng.random() < 0.7:
            latitude, longitude = place_latitude, place_longitude
    return {
        "num_songs": 1,
        "artist_id": artist.artist_id,
        "artist_latitude": latitude,
        "artist_longitude": longitude,
        "artist_location": location,
        "artist_name": name,
        "song_id": the_song_id,
        "title": song_title(rng),
        "duration": song_length(rng),
        "year": 0 if rng.random() < 0.5 else rng.randint(1955, 2010),
    }


def make_catalogue(rng, count):
    """``count`` (track id, song record) pairs. About one song in three is by an
    artist already in the catalogue, so artists have several songs."""
    folders = folder_names(count)
    track_ids, song_ids, artist_ids = set(), set(), set()
    artists = []
    catalogue = []
    for _ in range(count):
        if artists and rng.random() < 0.35:
            artist = rng.choice(artists)
        else:
            artist = new_artist(rng, artist_ids)
            artists.append(artist)
        record = song_record(rng, artist, credited_name(rng, artist), new_id(rng, song_ids, song_id))
        catalogue.append((new_id(rng, track_ids, lambda rng: track_id(rng, folders)), record))
    add_catalogue_quirks(rng, [record for _, record in catalogue])
    return catalogue


def add_catalogue_quirks(rng, songs):
    """Make sure that even a tiny catalogue has each quirk of the real one.

    The first song has year 0, no location and no coordinates. The next two are
    by the same artist, credited differently ("X feat. Y", "X & Y"), from
    different places, with titles outside ASCII.
    """
    if not songs:
        return
    first = songs[0]
    first.update(year=0, artist_location="", artist_latitude=None, artist_longitude=None)
    for song, joiner, title, place in zip(
        songs[1:3], (" feat. ", " & "), ("Clementina Santafè", "月亮代表我的心 💔"), ARTIST_PLACES[:2]
    ):
        spellings, latitude, longitude = place
        song.update(
            artist_id=first["artist_id"],
            artist_name=first["artist_name"] + joiner + artist_name(rng),
            artist_location=spellings[0],
            artist_latitude=latitude,
            artist_longitude=longitude,
            title=title,
        )


def write_song_files(out_dir, catalogue):
    """One file per song at song_data/A/B/C/TRABC....json."""
    made_folders = set()
    for the_track_id, record in catalogue:
        folder = os.path.join(out_dir, "song_data", the_track_id[2], the_track_id[3], the_track_id[4])
        if folder not in made_folders:
            os.makedirs(folder, exist_ok=True)
            made_folders.add(folder)
        with open(os.path.join(folder, the_track_id + ".json"), "w", encoding="ascii") as file:
            file.write(song_file_text(record))


# ---------------------------------------------------------------------------
# What users play
# ---------------------------------------------------------------------------


def other_songs(rng, count, catalogue):
    """Songs the app plays that are not in the catalogue, as (artist, title, length).

    Most plays in the real logs are of such songs. Some are by catalogue artists,
    and some carry the real logs' doubly encoded UTF-8 ("BjÃ\\x83Â¶rk").
    """
    songs = []
    for _ in range(count):
        if catalogue and rng.random() < 0.2:
            artist = rng.choice(catalogue)["artist_name"]
        else:
            artist = artist_name(rng)
        title = song_title(rng)
        if rng.random() < 0.05:
            artist, title = mojibake(artist), mojibake(title)
        songs.append((artist, title, song_length(rng)))
    return songs


class Plays:
    """Chooses the song of each NextSong event.

    Every PLAY_CYCLE plays, one of each special kind is slipped in: an exact
    catalogue match, a match whose length is off by 0.005 s (still a match: the
    rule is a difference under 0.01 s), a play whose length is off by 0.02 s (not
    a match), and one whose title has the wrong case (not a match: matching is
    case-sensitive). Otherwise 5% of plays are of catalogue songs and the rest of
    other songs, popular ones more often.
    """

    EXACT, NEAR_MATCH, NEAR_MISS, WRONG_CASE = 5, 15, 30, 40

    def __init__(self, rng, songs, events):
        self.rng = rng
        self.catalogue = songs
        self.others = other_songs(rng, max(100, events // 10), songs)
        self.count = 0

    def next(self):
        """(artist, song, length) of the next play."""
        rng = self.rng
        slot = self.count % PLAY_CYCLE
        self.count += 1
        special = slot in (self.EXACT, self.NEAR_MATCH, self.NEAR_MISS, self.WRONG_CASE)
        if self.catalogue and (special or rng.random() < 0.05):
            record = rng.choice(self.catalogue)
            artist, title, length = record["artist_name"], record["title"], record["duration"]
            if slot == self.NEAR_MATCH:
                length = round(length + rng.choice((-0.005, 0.005)), 5)
            elif slot == self.NEAR_MISS:
                length = round(length + rng.choice((-0.02, 0.02)), 5)
            elif slot == self.WRONG_CASE:
                title = title.upper() if title.upper() != title else title.lower()
            return artist, title, length
        return self.others[int(len(self.others) * rng.random() ** 2)]


def catalogue_durations(catalogue):
    """{(title, artist_name): [durations]}, to tell which plays match the catalogue."""
    durations = {}
    for _, record in catalogue:
        durations.setdefault((record["title"], record["artist_name"]), []).append(record["duration"])
    return durations


def matches_catalogue(event, durations):
    """the data contract's match rule: same title and artist name, durations less than 0.01 s apart."""
    candidates = durations.get((event["song"], event["artist"]), ())
    return any(abs(duration - event["length"]) < 0.01 for duration in candidates)


# ---------------------------------------------------------------------------
# Users and sessions
# ---------------------------------------------------------------------------


@dataclass
class User:
    user_id: str
    first_name: str
    last_name: str
    gender: str
    location: str
    user_agent: str
    registration: float
    level: str
    busy_until: int = 0  # ts of the last event of the user's latest session


def epoch_milliseconds(date):
    """Milliseconds since the epoch at midnight UTC starting ``date``."""
    return int(datetime.datetime.combine(date, datetime.time(), datetime.UTC).timestamp()) * 1000


def make_users(rng, count, period_start):
    """``count`` users registered in the two months before the period; ids are
    distinct numbers with gaps, as strings."""
    ids = sorted(rng.sample(range(2, 2 + count * 3 // 2 + 1), count))
    users = []
    for number in ids:
        registered = period_start - rng.randint(1, 60 * 86_400) * 1000 + CLOCK_MILLISECONDS
        users.append(User(
            user_id=str(number),
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            gender=rng.choice("FM"),
            location=rng.choice(USER_LOCATIONS),
            user_agent=rng.choice(USER_AGENTS),
            registration=float(registered),
            level="paid" if rng.random() < 0.4 else "free",
        ))
    return users


def user_count(events, days):
    """About as many users per event as the real sample (97 for 8,056 events), and
    enough that a user is rarely wanted for two sessions at once."""
    return max(5, math.isqrt(events), events // (10 * days))


def plan_sessions(rng, events, start_date, days):
    """(start ts, number of events) of each session, in start order; the numbers add up to ``events``.

    Days get different amounts of traffic, weekends less. A session starts early
    enough to end before the period does, however long its songs. Every
    SAME_START_CYCLE sessions, one starts in the same millisecond as the one
    before: in the real logs two users' plays sometimes share a ts.
    """
    day_weights = []
    for day in range(days):
        weekend = (start_date + datetime.timedelta(days=day)).weekday() >= 5
        day_weights.append(rng.uniform(0.6, 1.4) * (0.7 if weekend else 1.0))
    day_totals = list(itertools.accumulate(day_weights))
    period_start = epoch_milliseconds(start_date)
    period_end = period_start + days * DAY_MILLISECONDS
    plans = []
    remaining = events
    while remaining:
        size = min(remaining, LONGEST_SESSION, 1 + int(rng.expovariate(1 / 9)))
        latest_start = period_end - size * LONGEST_GAP_SECONDS * 1000
        twin = len(plans) % SAME_START_CYCLE == SAME_START_CYCLE - 1
        if twin and plans[-1][0] <= latest_start:
            start = plans[-1][0]
        else:
            start = session_start(rng, period_start, day_totals, latest_start)
        plans.append((start, size))
        remaining -= size
    plans.sort(key=lambda plan: plan[0])
    return plans


def session_start(rng, period_start, day_totals, latest_start):
    """A start ts no later than ``latest_start``, on a day drawn by its weight, in a whole second."""
    while True:
        day = rng.choices(range(len(day_totals)), cum_weights=day_totals)[0]
        start = period_start + day * DAY_MILLISECONDS + rng.randrange(86_400) * 1000 + CLOCK_MILLISECONDS
        if start <= latest_start:
            return start


def choose_user(rng, users, cumulative_weights, start, level=None):
    """A user who is not in another session at ``start``, active users more often.

    One of ``level`` if a few tries find one; any idle user otherwise. Only
    when every user is busy (too few users for the traffic) do sessions overlap.
    """
    for wanted_level in (level, None):
        for _ in range(25):
            user = rng.choices(users, cum_weights=cumulative_weights)[0]
            if user.busy_until < start and wanted_level in (None, user.level):
                return user
    idle = [user for user in users if user.busy_until < start]
    return idle[0] if idle else user


def cumulative(weights_by_name):
    """(names, cumulative weights), ready for rng.choices."""
    return list(weights_by_name), list(itertools.accumulate(weights_by_name.values()))


PAGE_CHOICES = {
    "free": cumulative(FREE_USER_PAGES),
    "paid": cumulative(PAID_USER_PAGES),
    "logged out": cumulative(LOGGED_OUT_PAGES),
}


def next_page(rng, logged_in, level):
    """The page a user (or, logged out, a visitor) opens next."""
    names, cumulative_weights = PAGE_CHOICES[level if logged_in else "logged out"]
    return rng.choices(names, cum_weights=cumulative_weights)[0]


def make_event(page, user, logged_in, level, session_id, item, ts, play):
    """One event, keys in the real order. Logged-out events carry no user: userId is
    "" and the person's fields are null, but the level stays that of the session."""
    method, status = PAGE_REQUESTS[page]
    artist, song, length = play if play else (None, None, None)
    if not logged_in:
        return {
            "artist": None, "auth": "Logged Out", "firstName": None, "gender": None,
            "itemInSession": item, "lastName": None, "length": None, "level": level,
            "location": None, "method": method, "page": page, "registration": None,
            "sessionId": session_id, "song": None, "status": status, "ts": ts,
            "userAgent": None, "userId": "",
        }
    return {
        "artist": artist, "auth": "Logged In", "firstName": user.first_name, "gender": user.gender,
        "itemInSession": item, "lastName": user.last_name, "length": length, "level": level,
        "location": user.location, "method": method, "page": page, "registration": user.registration,
        "sessionId": session_id, "song": song, "status": status, "ts": ts,
        "userAgent": user.user_agent, "userId": user.user_id,
    }


def session_events(rng, session_id, user, start, size, plays, change_level=False, starts_logged_out=False):
    """The ``size`` events of one session, itemInSession 0, 1, 2, ...

    A session may start logged out (Home, Login) and may log out and go on as a
    visitor. A user may upgrade or downgrade, and later events carry the new
    level; ``change_level`` makes sure this one does. The next event comes when
    the song is over (or skipped), or up to 90 s after another page, and
    sometimes in the same millisecond.
    """
    events = []
    logged_in = not starts_logged_out
    queue = deque()  # pages that must come next
    ts = start
    for item in range(size):
        if change_level and logged_in and not queue:
            queue.extend(("Upgrade", "Submit Upgrade") if user.level == "free" else ("Downgrade", "Submit Downgrade"))
            change_level = False
        page = queue.popleft() if queue else next_page(rng, logged_in, user.level)
        play = plays.next() if page == "NextSong" else None
        events.append(make_event(page, user, logged_in, user.level, session_id, item, ts, play))

        if page == "Upgrade" and not queue and rng.random() < 0.35:
            queue.append("Submit Upgrade")
        elif page == "Downgrade" and not queue and rng.random() < 0.15:
            queue.append("Submit Downgrade")
        elif page == "Settings" and rng.random() < 0.3:
            queue.append("Save Settings")
        elif page == "Submit Upgrade":
            user.level = "paid"
        elif page == "Submit Downgrade":
            user.level = "free"
        elif page == "Logout":
            logged_in = False
            queue.append("Home")
        elif page == "Login":
            logged_in = True

        if play:
            length = int(play[2])
            ts += (length if rng.random() < 0.9 else rng.randint(1, length)) * 1000
        elif rng.random() > 0.04:
            ts += rng.randint(1, 90) * 1000
    user.busy_until = ts
    return events


# ---------------------------------------------------------------------------
# Log files
# ---------------------------------------------------------------------------


def log_file_path(out_dir, day):
    return os.path.join(out_dir, "log_data", f"{day:%Y}", f"{day:%m}", f"{day:%Y-%m-%d}-events.json")


def write_log_file(out_dir, day, events, last_file):
    """Write one day's events, sorted by ts (ties keep the order they happened in)."""
    events.sort(key=lambda event: event["ts"])
    path = log_file_path(out_dir, day)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as file:
        file.write(log_file_text([event_line(event) for event in events], last_file))


class DailyLogs:
    """Collects events by day and writes each day's file once no later session can reach it.

    Sessions are simulated in start order, so once a session starts on day N,
    days before N are complete: only a day or two of events is held in memory.
    """

    def __init__(self, out_dir, start_date, days, catalogue):
        self.out_dir = out_dir
        self.start_date = start_date
        self.days = days
        self.period_start = epoch_milliseconds(start_date)
        self.durations = catalogue_durations(catalogue)
        self.pending = {day: [] for day in range(days)}
        self.written = 0
        self.next_song_events = 0
        self.matched_plays = 0
        self.user_ids = set()

    def day_of(self, ts):
        return (ts - self.period_start) // DAY_MILLISECONDS

    def add(self, events):
        for event in events:
            self.pending[self.day_of(event["ts"])].append(event)

    def write_days_before(self, day_limit):
        while self.written < day_limit:
            events = self.pending.pop(self.written)
            self.count(events)
            day = self.start_date + datetime.timedelta(days=self.written)
            write_log_file(self.out_dir, day, events, last_file=self.written == self.days - 1)
            self.written += 1

    def count(self, events):
        for event in events:
            if event["userId"]:
                self.user_ids.add(event["userId"])
            if event["page"] == "NextSong":
                self.next_song_events += 1
                self.matched_plays += matches_catalogue(event, self.durations)


def generate_logs(rng, out_dir, catalogue, events, days, start_date):
    """Simulate the sessions, write one log file a day, and return what was written."""
    period_start = epoch_milliseconds(start_date)
    users = make_users(rng, user_count(events, days), period_start)
    activity = list(itertools.accumulate(rng.paretovariate(1.2) for _ in users))
    plays = Plays(rng, [record for _, record in catalogue], events)
    logs = DailyLogs(out_dir, start_date, days, catalogue)
    level_changes = 0
    level_change_due = False
    for number, (start, size) in enumerate(plan_sessions(rng, events, start_date, days)):
        logs.write_days_before(logs.day_of(start))
        # Every so often the next session long enough must change its user's
        # level: upgrades and downgrades in turn.
        if number % LEVEL_CHANGE_CYCLE == LEVEL_CHANGE_CYCLE // 2:
            level_change_due = True
        change_level = level_change_due and size >= 6
        wanted_level = None
        if change_level:
            level_change_due = False
            wanted_level = ("free", "paid")[level_changes % 2]
            level_changes += 1
        user = choose_user(rng, users, activity, start, wanted_level)
        starts_logged_out = not change_level and (number == 0 or rng.random() < 0.1)
        logs.add(session_events(rng, number + 1, user, start, size, plays, change_level, starts_logged_out))
    logs.write_days_before(days)
    return {
        "log_files": days,
        "events": events,
        "next_song_events": logs.next_song_events,
        "matched_plays": logs.matched_plays,
        "users": len(logs.user_ids),
    }


# ---------------------------------------------------------------------------
# The whole source
# ---------------------------------------------------------------------------


def parse_start(start):
    """A date from "2018-11-01" or a datetime.date."""
    if isinstance(start, datetime.date):
        return start
    return datetime.date.fromisoformat(start)


def clear_output(out_dir, replace):
    """Refuse to mix a new source with an old one: files of both would be loaded."""
    existing = [name for name in ("song_data", "log_data", "log_json_path.json")
                if os.path.exists(os.path.join(out_dir, name))]
    if existing and not replace:
        raise FileExistsError(
            f"{out_dir} already holds {', '.join(existing)}: pick an empty folder or pass replace=True (--replace)"
        )
    for name in existing:
        path = os.path.join(out_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def generate(
    out_dir,
    songs=DEFAULT_SONGS,
    events=DEFAULT_EVENTS,
    days=DEFAULT_DAYS,
    seed=DEFAULT_SEED,
    start=DEFAULT_START,
    replace=False,
):
    """Write a synthetic source to ``out_dir`` and return what was written.

    ``songs`` song files, ``events`` events over ``days`` daily log files from
    ``start`` (a date or "YYYY-MM-DD", UTC), all from ``seed``. With
    ``replace=True`` an existing song_data/, log_data/ and log_json_path.json in
    ``out_dir`` are deleted first.

    Returns a dict: song_files, log_files, events, next_song_events,
    matched_plays (NextSong events that match a catalogue song under the data contract's
    rule) and users (distinct non-empty userIds).
    """
    if songs < 0 or events < 0 or days < 1:
        raise ValueError("songs and events must be 0 or more, days 1 or more")
    start_date = parse_start(start)
    os.makedirs(out_dir, exist_ok=True)
    clear_output(out_dir, replace)
    rng = random.Random(seed)
    catalogue = make_catalogue(rng, songs)
    write_song_files(out_dir, catalogue)
    summary = {"song_files": len(catalogue)}
    summary.update(generate_logs(rng, out_dir, catalogue, events, days, start_date))
    with open(os.path.join(out_dir, "log_json_path.json"), "w", encoding="ascii") as file:
        file.write(LOG_JSON_PATH)
    return summary


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Write synthetic Sparkify source data (song_data/, log_data/, log_json_path.json) "
        "in exactly the layout and format of the real Udacity data. The same arguments always "
        "write the same bytes.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the source into")
    parser.add_argument("--songs", type=int, default=DEFAULT_SONGS,
                        help=f"number of song files, one song each (default {DEFAULT_SONGS})")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS,
                        help=f"number of log events in all (default {DEFAULT_EVENTS})")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS,
                        help=f"number of daily log files to spread the events over (default {DEFAULT_DAYS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed: the same seed and options give the same files (default {DEFAULT_SEED})")
    parser.add_argument("--start", default=DEFAULT_START, type=datetime.date.fromisoformat,
                        help=f"first day of the logs, YYYY-MM-DD, UTC (default {DEFAULT_START})")
    parser.add_argument("--replace", action="store_true",
                        help="delete song_data/, log_data/ and log_json_path.json already in OUT_DIR first "
                        "(without it, an OUT_DIR holding them is an error)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    began = time.perf_counter()
    try:
        summary = generate(args.out_dir, args.songs, args.events, args.days, args.seed, args.start, args.replace)
    except (FileExistsError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(
        f"Wrote {summary['song_files']:,} song files and {summary['log_files']:,} log files "
        f"({summary['events']:,} events, {summary['next_song_events']:,} NextSong, "
        f"{summary['matched_plays']:,} matching the catalogue, {summary['users']:,} users) "
        f"to {args.out_dir} in {time.perf_counter() - began:.1f} s"
    )


if __name__ == "__main__":
    main()
