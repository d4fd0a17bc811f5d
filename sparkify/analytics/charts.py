"""A chart for each answer of questions.py, on a matplotlib Axes.

    from sparkify.analytics import charts, questions as analytics
    charts.chart("top_artists", analytics.ask(connection, "top_artists"))

What every chart keeps to:

- a count axis has whole-number ticks only (no "0.5 plays");
- two bars of one name are told apart by their id ("DJ Ghost (ARXXXXX...)");
- a chart over days has a date axis with every day from the first to the
  last, so a day without a change shows as zero, not as a missing column;
- names in Chinese, Japanese or Korean are drawn with an installed font that
  has those letters (Noto Sans CJK, Source Han Sans, WenQuanYi, Hiragino,
  Microsoft YaHei...), added to matplotlib's font list as a fallback. When no
  such font is installed they would be drawn as boxes: a MissingGlyphs
  warning says so once, names the labels and how to install one. The names
  are never transliterated: a warehouse's names are shown as they are.
"""

import functools
import re
import warnings
from collections import Counter

import matplotlib
import pandas
from matplotlib import dates as mdates
from matplotlib import font_manager, ft2font
from matplotlib.ticker import MaxNLocator

# Fonts known to hold CJK glyphs, the most complete first. Any other installed
# font that has them is found too, by looking at its glyphs.
CJK_FONTS = (
    "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Sans CJK HK",
    "Source Han Sans", "Source Han Sans SC", "Source Han Sans JP", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Droid Sans Fallback", "Hiragino Sans", "Hiragino Sans GB", "PingFang SC", "Microsoft YaHei", "Yu Gothic",
    "MS Gothic", "Malgun Gothic", "IPAexGothic", "IPAGothic", "TakaoGothic", "Arial Unicode MS",
)
CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
INSTALL_CJK_FONT = (
    "install a font with CJK glyphs (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; "
    "macOS and Windows have one already), then rm -rf ~/.cache/matplotlib and draw again"
)


class MissingGlyphs(UserWarning):
    """Labels hold letters that no installed font can draw: they show as boxes."""


def _has_cjk_glyphs(path: str) -> bool:
    try:
        font = ft2font.FT2Font(path)
        return all(font.get_char_index(ord(letter)) for letter in "周ヒ한")
    except (OSError, RuntimeError, ValueError):
        return False


@functools.cache
def cjk_font() -> str | None:
    """The name of an installed font that draws Chinese, Japanese and Korean, or None."""
    # matplotlib's "Last Resort" font maps every letter to a placeholder: it has them all and draws none.
    fonts = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist
             if not entry.name.startswith("Last Resort")}
    known = [name for name in CJK_FONTS if name in fonts]
    others = sorted(name for name in fonts if name not in CJK_FONTS)
    return next((name for name in known + others if _has_cjk_glyphs(fonts[name])), None)


def use_cjk_fallback() -> str | None:
    """Add the CJK font after matplotlib's own, so that its glyphs fill the gaps; returns its name."""
    name = cjk_font()
    families = list(matplotlib.rcParams["font.family"])
    if name and name not in families:
        matplotlib.rcParams["font.family"] = [*families, name]
    return name


_warned = set()


def _warn_if_drawn_as_boxes(labels) -> None:
    if cjk_font():
        return
    missing = sorted({label for label in labels if CJK.search(label)} - _warned)
    if missing:
        _warned.update(missing)
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        warnings.warn(f"no installed font has CJK letters, so {shown} show as boxes: {INSTALL_CJK_FONT}",
                      MissingGlyphs, stacklevel=3)


def tell_apart(labels, ids=None):
    """Labels with each repeated one followed by its id, or by a counter without ids."""
    labels = list(labels)
    repeated = {label for label, count in Counter(labels).items() if count > 1}
    seen = Counter()
    result = []
    for position, label in enumerate(labels):
        if label in repeated:
            seen[label] += 1
            label = f"{label} ({ids[position] if ids is not None else f'#{seen[label]}'})"
        result.append(label)
    return result


def _whole_numbers(axis):
    axis.set_major_locator(MaxNLocator(integer=True))


def _shorten(label, width=40):
    return label if len(label) <= width else label[: width - 1] + "\u2026"


def _bars(frame, x, y, title, xlabel, ax, horizontal=False):
    kind = "barh" if horizontal else "bar"
    frame = frame.assign(**{x: frame[x].astype(str).map(_shorten)})
    frame.plot(kind=kind, x=x, y=y, ax=ax, legend=isinstance(y, list), color=None if isinstance(y, list) else "C0")
    ax.set_title(title)
    if horizontal:
        ax.invert_yaxis()  # the largest first, at the top
        ax.set_xlabel("plays")
        ax.set_ylabel("")
        _whole_numbers(ax.xaxis)
    else:
        ax.set_xlabel(xlabel)
        ax.set_ylabel("plays")
        ax.tick_params(axis="x", labelrotation=0)
        _whole_numbers(ax.yaxis)
    return ax


def _ids(frame, column):
    return list(frame[column]) if column in frame else None


def _hour_chart(frame, ax):
    every_hour = frame.set_index("hour").reindex(range(24), fill_value=0).reset_index()
    return _bars(every_hour, "hour", "plays", "Plays by hour of day (UTC)", "hour of day (UTC)", ax)


def _weekday_chart(frame, ax):
    return _bars(frame, "day", "plays", "Plays by weekday", "", ax)


def _top_songs_chart(frame, ax):
    labels = tell_apart(frame["song"] + " - " + frame["artist"].fillna("?"), _ids(frame, "song_id"))
    return _bars(frame.assign(label=labels), "label", "plays", "Top songs (matched plays)", "", ax, horizontal=True)


def _top_artists_chart(frame, ax):
    labels = tell_apart(frame["artist"], _ids(frame, "artist_id"))
    return _bars(frame.assign(artist=labels), "artist", "plays", "Top artists (matched plays)", "", ax,
                 horizontal=True)


def _levels_chart(frame, ax):
    shares = frame.set_index("level")[["users", "plays"]]
    shares = (100 * shares / shares.sum()).T
    shares.plot(kind="bar", stacked=True, ax=ax)
    ax.set_title("Free and paid: share of users (now) and of plays")
    ax.set_ylabel("%")
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelrotation=0)
    return ax


def every_day(frame, columns):
    """The frame indexed by day, with every day from the first to the last; a missing day is zeros."""
    days = pandas.to_datetime(frame["day"])
    counts = frame.assign(day=days).groupby("day")[columns].sum()
    return counts.reindex(pandas.date_range(days.min(), days.max(), freq="D"), fill_value=0)


def _level_changes_chart(frame, ax):
    counts = every_day(frame, ["upgrades", "downgrades"])
    x = mdates.date2num(counts.index.to_pydatetime())
    ax.bar(x - 0.2, counts["upgrades"], width=0.4, label="upgrades", color="C0")
    ax.bar(x + 0.2, counts["downgrades"], width=0.4, label="downgrades", color="C1")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_title("Level changes by day")
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel("level changes")
    _whole_numbers(ax.yaxis)
    ax.legend()
    return ax


def _locations_chart(frame, ax):
    return _bars(frame, "location", "plays", "Busiest locations", "", ax, horizontal=True)


def _platform_chart(frame, ax):
    table = frame.pivot_table(index="browser", columns="operating_system", values="plays", aggfunc="sum", fill_value=0)
    table = table.loc[table.sum(axis=1).sort_values().index]
    table.plot(kind="barh", stacked=True, ax=ax)
    ax.set_title("Plays by browser and operating system")
    ax.set_xlabel("plays")
    ax.set_ylabel("")
    _whole_numbers(ax.xaxis)
    ax.legend(title="")
    return ax


charts = {
    "plays_by_hour": _hour_chart,
    "plays_by_weekday": _weekday_chart,
    "top_songs": _top_songs_chart,
    "top_artists": _top_artists_chart,
    "users_and_plays_by_level": _levels_chart,
    "level_changes_by_day": _level_changes_chart,
    "busiest_locations": _locations_chart,
    "plays_by_platform": _platform_chart,
}


def chart(question: str, frame: pandas.DataFrame, ax=None):
    """Draw a question's answer; on a new figure unless ``ax`` is given. Returns the Axes."""
    use_cjk_fallback()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4.5))
    if frame.empty:
        ax.set_title(question.replace("_", " ").capitalize())
        ax.text(0.5, 0.5, "no rows to show", ha="center", va="center", transform=ax.transAxes)
    else:
        charts[question](frame, ax)
        _warn_if_drawn_as_boxes(str(value) for column in frame for value in frame[column] if isinstance(value, str))
    ax.figure.tight_layout()
    return ax
