"""The analytics questions: exact answers on a hand-written week, and on the bundled sample."""

import datetime
import subprocess
import sys
from collections import Counter, defaultdict

import matplotlib
import matplotlib.dates
import matplotlib.pyplot as plt
import pandas
import pytest
import sqlglot
from helpers import BUNDLED_SAMPLE, PROJECT_DIR, event, song, write_source
from matplotlib import font_manager

from sparkify.analytics import charts
from sparkify.analytics import questions as analytics
from sparkify.engines.postgres import to_postgres
from sql_queries import column_list

matplotlib.use("Agg")

# Some artist names are CJK: where no installed font has those letters, charts.py says so once (MissingGlyphs).
pytestmark = [pytest.mark.filterwarnings("ignore:Glyph .* missing from font"),
              pytest.mark.filterwarnings("ignore::sparkify.analytics.charts.MissingGlyphs")]

ALL_STATEMENTS = {**analytics.questions, **analytics.checks}


@pytest.mark.parametrize("name", ALL_STATEMENTS)
def test_each_statement_is_redshift_sql_that_postgresql_runs_unchanged(name):
    statement = ALL_STATEMENTS[name]
    sqlglot.parse_one(statement, read="redshift")
    assert to_postgres(statement) == statement


def ms(text):
    """Epoch milliseconds of a UTC time written as text."""
    moment = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0"
SAFARI_ON_IPHONE = (
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 '
    '(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"'
)
CHROME_ON_LINUX = (
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/37.0.2062.94 Safari/537.36"'
)


@pytest.fixture(scope="module")
def a_week(tmp_path_factory):
    """Kaylee (8) plays free, upgrades, downgrades; Lily (15) plays once, paid; a logged-out
    listener plays once; Bob (20) only opens the app. 2018-11-01 was a Thursday."""
    kaylee = dict(userId="8", firstName="Kaylee", location="Phoenix-Mesa-Scottsdale, AZ",
                  userAgent=FIREFOX_ON_WINDOWS)
    events = [
        event(**kaylee, level="free", sessionId=139, itemInSession=1, ts=ms("2018-11-01 21:01:46.796")),
        event(**kaylee, level="paid", sessionId=140, itemInSession=1, ts=ms("2018-11-02 09:00:00")),
        event(**kaylee, level="free", sessionId=141, itemInSession=1, ts=ms("2018-11-03 10:00:00"),
              song="Nothing Matches", artist="Nobody", length=100.0),
        event(userId="15", firstName="Lily", level="paid", sessionId=150, itemInSession=0,
              ts=ms("2018-11-02 09:30:00"), song="Song B", artist="Band", length=200.0,
              location="Chicago-Naperville-Elgin, IL-IN-WI", userAgent=SAFARI_ON_IPHONE),
        event(userId="", auth="Logged Out", firstName=None, lastName=None, gender=None, level="free",
              sessionId=200, itemInSession=0, ts=ms("2018-11-04 23:59:59"), song="Nothing", artist="Nobody",
              location="Chicago-Naperville-Elgin, IL-IN-WI", userAgent=CHROME_ON_LINUX),
        event(userId="20", firstName="Bob", level="free", page="Home", sessionId=300, itemInSession=0,
              ts=ms("2018-11-05 08:00:00"), song=None, artist=None, length=None),
    ]
    songs = [
        song(),  # "You Gotta Be" by Des'ree, 246.30812 s: the default event
        song(song_id="SOBBBBB12A6D4FA1E1", title="Song B", artist_id="ARBAND1187FB546F3", artist_name="Band",
             duration=200.0, artist_location="", artist_latitude=None, artist_longitude=None),
    ]
    return write_source(tmp_path_factory.mktemp("week"), events=events, songs=songs)


@pytest.fixture
def loaded(warehouse):
    """Load a source into this module's schema, unless it is what is loaded already."""
    def load(source):
        if getattr(warehouse, "loaded_source", None) != source:
            warehouse.load(source)
            warehouse.loaded_source = source
        return warehouse
    return load


def answer(warehouse, question):
    frame = analytics.ask(warehouse.connection, question)
    return [tuple(row) for row in frame.itertuples(index=False)]


EXPECTED_FOR_THE_WEEK = {
    "plays_by_hour": [(9, 2), (10, 1), (21, 1), (23, 1)],
    "plays_by_weekday": [(0, "Sun", 1), (4, "Thu", 1), (5, "Fri", 2), (6, "Sat", 1)],
    "top_songs": [("You Gotta Be", "Des'ree", 2, "SOUPIRU12A6D4FA1E1"), ("Song B", "Band", 1, "SOBBBBB12A6D4FA1E1")],
    "top_artists": [("Des'ree", 2, 1, "ARMJAGH1187FB546F3"), ("Band", 1, 1, "ARBAND1187FB546F3")],
    # users by their level now (Kaylee's last event is free), plays by the level then
    "users_and_plays_by_level": [("free", 2, 3), ("paid", 1, 2)],
    "level_changes_by_day": [(datetime.date(2018, 11, 2), 1, 0), (datetime.date(2018, 11, 3), 0, 1)],
    "busiest_locations": [("Phoenix-Mesa-Scottsdale, AZ", 3, 1), ("Chicago-Naperville-Elgin, IL-IN-WI", 2, 1)],
    "plays_by_platform": [("Windows", "Firefox", 3, 1), ("iOS", "Safari", 1, 1), ("Linux", "Chrome", 1, 0)],
}


@pytest.mark.parametrize("question", analytics.questions)
def test_each_question_on_a_hand_written_week(loaded, a_week, question):
    assert answer(loaded(a_week), question) == EXPECTED_FOR_THE_WEEK[question]


def test_rows_per_table_on_a_hand_written_week(loaded, a_week):
    counts = dict(answer(loaded(a_week), "rows_per_table"))
    assert counts == {
        "songplay_table": 5, "user_table": 3, "song_table": 2, "artist_table": 2, "time_table": 5,
        "staging_events": 6, "staging_songs": 2, "rejected_records": 0,
    }
    assert answer(loaded(a_week), "rejected_records") == []


# ---------------------------------------------------------------------------
# The bundled sample: every answer equals the same question answered in
# Python from the rows of the star schema.
# ---------------------------------------------------------------------------

# Every user agent of the sample (the real data's twelve), as people would name it.
PLATFORMS = {
    FIREFOX_ON_WINDOWS: ("Windows", "Firefox"),
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko": ("Windows", "Internet Explorer"),
    CHROME_ON_LINUX: ("Linux", "Chrome"),
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) Version/7.0.6 '
    'Safari/537.78.2"': ("macOS", "Safari"),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0": ("macOS", "Firefox"),
    SAFARI_ON_IPHONE: ("iOS", "Safari"),
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; WOW64; Trident/6.0)": ("Windows", "Internet Explorer"),
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"': ("macOS", "Chrome"),
    '"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 '
    'Safari/537.36"': ("Windows", "Chrome"),
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0": ("Windows", "Firefox"),
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 '
    'Safari/537.36"': ("Windows", "Chrome"),
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 '
    'Chrome/36.0.1985.125 Safari/537.36"': ("Linux", "Chrome"),
}


def plays_and_listeners(plays, key):
    """Plays, and the set of users who played, per value of ``key`` (None left out)."""
    counts, listeners = Counter(), defaultdict(set)
    for play in plays:
        value = key(play)
        if value is not None:
            counts[value] += 1
            if play[1] is not None:
                listeners[value].add(play[1])
    return counts, listeners


def top(counter, key, limit=10):
    return sorted(counter.items(), key=key)[:limit]


def expected_from_the_star_schema(warehouse):
    """Each question answered in plain Python over the rows of the star schema."""
    plays = warehouse.query(
        f"SELECT {column_list('songplay_table')} FROM songplay_table"
    )
    songs = {song_id: (title, artist_id) for song_id, title, artist_id in
             warehouse.query("SELECT song_id, title, artist_id FROM song_table")}
    artists = dict(warehouse.query("SELECT artist_id, name FROM artist_table"))
    users = warehouse.query("SELECT user_id, level FROM user_table")
    weekday_names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    expected = {}
    hours = Counter(play[0].hour for play in plays)
    expected["plays_by_hour"] = sorted(hours.items())
    weekdays = Counter(play[0].isoweekday() % 7 for play in plays)
    expected["plays_by_weekday"] = [(day, weekday_names[day], count) for day, count in sorted(weekdays.items())]

    song_plays = Counter(play[3] for play in plays if play[3] is not None)
    expected["top_songs"] = [
        (songs[song_id][0], artists.get(songs[song_id][1]), count, song_id)
        for song_id, count in top(song_plays, lambda item: (-item[1], songs[item[0]][0], item[0]))
    ]
    artist_plays, listeners = plays_and_listeners(plays, lambda play: play[4])
    expected["top_artists"] = [
        (artists[artist_id], count, len(listeners[artist_id]), artist_id)
        for artist_id, count in top(artist_plays, lambda item: (-item[1], artists[item[0]], item[0]))
    ]

    users_by_level = Counter(level for _, level in users)
    plays_by_level = Counter(play[2] for play in plays)
    expected["users_and_plays_by_level"] = [
        (level, users_by_level[level], plays_by_level[level]) for level in sorted(users_by_level | plays_by_level)
    ]

    changes = defaultdict(lambda: [0, 0])
    by_user = defaultdict(list)
    for play in plays:
        if play[1] is not None:
            by_user[play[1]].append(play)
    for user_plays in by_user.values():
        user_plays.sort(key=lambda play: (play[0], play[5], play[6]))
        for before, after in zip(user_plays, user_plays[1:]):
            if before[2] != after[2]:
                changes[after[0].date()][0 if after[2] == "paid" else 1] += 1
    expected["level_changes_by_day"] = [(day, up, down) for day, (up, down) in sorted(changes.items())]

    location_plays, location_listeners = plays_and_listeners(plays, lambda play: play[7])
    expected["busiest_locations"] = [
        (location, count, len(location_listeners[location]))
        for location, count in top(location_plays, lambda item: (-item[1], item[0]))
    ]

    platform_plays, platform_listeners = plays_and_listeners(plays, lambda play: PLATFORMS[play[8]])
    expected["plays_by_platform"] = [
        (system, browser, count, len(platform_listeners[(system, browser)]))
        for (system, browser), count in sorted(
            platform_plays.items(), key=lambda item: (-item[1], item[0][0].lower(), item[0][1].lower())
        )
    ]
    return expected


@pytest.fixture
def sample(loaded):
    if not BUNDLED_SAMPLE.exists():
        pytest.skip("data/sample is not there")
    return loaded(BUNDLED_SAMPLE)


def test_the_sample_has_only_the_user_agents_named_here(sample):
    agents = {agent for (agent,) in sample.query("SELECT DISTINCT user_agent FROM songplay_table")}
    assert agents <= set(PLATFORMS), "a new user agent: name its platform in PLATFORMS"


@pytest.mark.parametrize("question", analytics.questions)
def test_each_question_on_the_bundled_sample(sample, question):
    expected = expected_from_the_star_schema(sample)[question]
    assert expected, "the sample should give every question an answer"
    assert answer(sample, question) == expected


def test_every_play_is_counted_once_by_hour_weekday_level_and_platform(sample):
    plays = sample.count("songplay_table")
    assert sum(row[-1] for row in answer(sample, "plays_by_hour")) == plays
    assert sum(row[-1] for row in answer(sample, "plays_by_weekday")) == plays
    assert sum(row[2] for row in answer(sample, "users_and_plays_by_level")) == plays
    assert sum(row[2] for row in answer(sample, "plays_by_platform")) == plays


# ---------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("question", analytics.questions)
def test_each_answer_draws_a_chart(sample, question):
    ax = charts.chart(question, analytics.ask(sample.connection, question))
    assert ax.get_title()
    assert ax.patches, "a chart with no bars"
    plt.close(ax.figure)


def test_an_empty_answer_draws_a_note_instead_of_failing():
    ax = charts.chart("level_changes_by_day", pandas.DataFrame(columns=["day", "upgrades", "downgrades"]))
    assert [text.get_text() for text in ax.texts] == ["no rows to show"]
    plt.close(ax.figure)


def test_make_plots_redraws_the_readme_chart_from_the_sample(dsn, tmp_path):
    if not BUNDLED_SAMPLE.exists():
        pytest.skip("data/sample is not there")
    result = subprocess.run(
        [sys.executable, "-m", "docs.make_plots", "--dsn", dsn, "--out", str(tmp_path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    image = tmp_path / "plays_by_hour.png"
    assert result.stdout == f"wrote {image}\n"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (PROJECT_DIR / "docs" / "plays_by_hour.png").exists(), "run python -m docs.make_plots for the README"


# ---------------------------------------------------------------------------
# What every chart keeps to (charts.py)
# ---------------------------------------------------------------------------

COUNT_AXIS = {
    "plays_by_hour": "y", "plays_by_weekday": "y", "level_changes_by_day": "y",
    "top_songs": "x", "top_artists": "x", "busiest_locations": "x", "plays_by_platform": "x",
}

# Answers with a handful of plays, where a default axis puts ticks at 0.5.
SMALL_ANSWERS = {
    "plays_by_hour": pandas.DataFrame({"hour": [9, 10], "plays": [2, 1]}),
    "plays_by_weekday": pandas.DataFrame({"weekday": [4, 5], "day": ["Thu", "Fri"], "plays": [1, 2]}),
    "level_changes_by_day": pandas.DataFrame({"day": [datetime.date(2018, 11, 2)], "upgrades": [1], "downgrades": [0]}),
    "top_songs": pandas.DataFrame({"song": ["A", "B"], "artist": ["X", None], "plays": [3, 2],
                                   "song_id": ["SOA", "SOB"]}),
    "top_artists": pandas.DataFrame({"artist": ["X", "Y"], "plays": [3, 1], "listeners": [2, 1],
                                     "artist_id": ["ARX", "ARY"]}),
    "busiest_locations": pandas.DataFrame({"location": ["Here", "There"], "plays": [2, 1], "listeners": [1, 1]}),
    "plays_by_platform": pandas.DataFrame({"operating_system": ["iOS", "Linux"], "browser": ["Safari", "Chrome"],
                                           "plays": [1, 2], "listeners": [1, 1]}),
}


@pytest.fixture
def draw():
    figures = []

    def draw(question, frame):
        ax = charts.chart(question, frame)
        ax.figure.canvas.draw()
        figures.append(ax.figure)
        return ax

    yield draw
    for figure in figures:
        plt.close(figure)


def ticks(ax, axis):
    return (ax.get_xticks() if axis == "x" else ax.get_yticks()).tolist()


@pytest.mark.parametrize("question", COUNT_AXIS)
def test_a_count_axis_has_whole_number_ticks_only(draw, question):
    axis = COUNT_AXIS[question]
    values = ticks(draw(question, SMALL_ANSWERS[question]), axis)
    assert values and all(value == int(value) for value in values), values


@pytest.mark.parametrize("question", COUNT_AXIS)
def test_a_count_axis_has_whole_number_ticks_on_the_sample(sample, draw, question):
    values = ticks(draw(question, analytics.ask(sample.connection, question)), COUNT_AXIS[question])
    assert all(value == int(value) for value in values), values


def test_two_artists_of_one_name_are_told_apart_by_their_id(draw):
    frame = pandas.DataFrame({"artist": ["DJ Ghost", "Band", "DJ Ghost"], "plays": [3, 3, 3], "listeners": [3, 3, 3],
                              "artist_id": ["ARAAA", "ARBBB", "ARCCC"]})
    labels = [label.get_text() for label in draw("top_artists", frame).get_yticklabels()]
    assert labels == ["DJ Ghost (ARAAA)", "Band", "DJ Ghost (ARCCC)"]


def test_the_sample_s_two_dj_ghosts_are_two_labels(sample, draw):
    labels = [label.get_text() for label in draw("top_artists", analytics.ask(sample.connection, "top_artists"))
              .get_yticklabels()]
    assert len(set(labels)) == len(labels)
    assert sum(label.startswith("DJ Ghost (AR") for label in labels) == 2


@pytest.mark.parametrize("labels, ids, expected", [
    (["a", "b"], None, ["a", "b"]),
    (["a", "b", "a"], None, ["a (#1)", "b", "a (#2)"]),
    (["a", "b", "a"], ["S1", "S2", "S3"], ["a (S1)", "b", "a (S3)"]),
])
def test_tell_apart_adds_the_id_or_a_counter_to_repeated_labels_only(labels, ids, expected):
    assert charts.tell_apart(labels, ids) == expected


def test_level_changes_are_on_a_date_axis_with_every_day_between_the_first_and_the_last(draw):
    frame = pandas.DataFrame({"day": [datetime.date(2018, 11, 2), datetime.date(2018, 11, 5)],
                              "upgrades": [1, 0], "downgrades": [0, 2]})
    ax = draw("level_changes_by_day", frame)
    heights = [(round(bar.get_x() + bar.get_width() / 2, 1), bar.get_height()) for bar in ax.patches]
    first = matplotlib.dates.date2num(datetime.date(2018, 11, 2))
    assert heights == [  # upgrades, then downgrades, for the 2nd, 3rd, 4th and 5th
        (first - 0.2, 1), (first + 0.8, 0), (first + 1.8, 0), (first + 2.8, 0),
        (first + 0.2, 0), (first + 1.2, 0), (first + 2.2, 0), (first + 3.2, 2),
    ]
    assert isinstance(ax.xaxis.get_major_formatter(), matplotlib.dates.ConciseDateFormatter)


def test_every_day_fills_the_days_without_a_change_with_zeros():
    frame = pandas.DataFrame({"day": [datetime.date(2018, 11, 29), datetime.date(2018, 12, 1)],
                              "upgrades": [1, 2], "downgrades": [3, 0]})
    filled = charts.every_day(frame, ["upgrades", "downgrades"])
    assert [day.date().isoformat() for day in filled.index] == ["2018-11-29", "2018-11-30", "2018-12-01"]
    assert filled.values.tolist() == [[1, 3], [0, 0], [2, 0]]


CJK_ARTISTS = pandas.DataFrame({"artist": ["周杰倫", "宇多田ヒカル"], "plays": [2, 1], "listeners": [1, 1],
                                "artist_id": ["ARJAY", "ARHIKARU"]})


@pytest.fixture
def no_cjk_font(monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    monkeypatch.setattr(charts, "_warned", set())


def test_without_a_cjk_font_one_warning_names_the_labels_and_how_to_install_one(no_cjk_font, draw):
    with pytest.warns(charts.MissingGlyphs) as caught:
        draw("top_artists", CJK_ARTISTS)
    [warning] = [item for item in caught if item.category is charts.MissingGlyphs]
    assert str(warning.message) == (
        "no installed font has CJK letters, so 周杰倫, 宇多田ヒカル show as boxes: install a font with CJK glyphs "
        "(Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; macOS and Windows have one already), "
        "then rm -rf ~/.cache/matplotlib and draw again"
    )


def test_latin_names_draw_without_a_warning(no_cjk_font, draw, recwarn):
    draw("top_artists", SMALL_ANSWERS["top_artists"])
    assert not [item for item in recwarn if item.category is charts.MissingGlyphs]


def test_an_installed_cjk_font_is_found_by_its_glyphs_and_added_as_a_fallback(monkeypatch):
    fonts = [font_manager.FontEntry(fname="/fonts/DejaVuSans.ttf", name="DejaVu Sans"),
             font_manager.FontEntry(fname="/fonts/LastResort.otf", name="Last Resort High-Efficiency"),
             font_manager.FontEntry(fname="/fonts/SomeHanFont.otf", name="Some Han Font")]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fonts)
    # The Last Resort font answers for every letter, with a placeholder: it is never the one
    monkeypatch.setattr(charts, "_has_cjk_glyphs", lambda path: path != "/fonts/DejaVuSans.ttf")
    charts.cjk_font.cache_clear()
    try:
        with matplotlib.rc_context({"font.family": ["sans-serif"]}):
            assert charts.use_cjk_fallback() == "Some Han Font"
            assert matplotlib.rcParams["font.family"] == ["sans-serif", "Some Han Font"]
    finally:
        charts.cjk_font.cache_clear()


def test_with_a_cjk_font_installed_cjk_names_draw_with_no_missing_glyph(draw, recwarn):
    if charts.cjk_font() is None:
        pytest.skip("no font with CJK glyphs is installed here (e.g. fonts-noto-cjk)")
    draw("top_artists", CJK_ARTISTS)
    assert not [item for item in recwarn if "missing from font" in str(item.message)]
