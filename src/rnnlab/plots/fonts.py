"""Fonts that can draw Chinese, so that 我 爱 祖国 shows as characters, not boxes.

matplotlib's default font (DejaVu Sans) has no CJK glyphs. We look, once per
process, for a CJK-capable font among the system's fonts (Debian: fonts-wqy-microhei,
fonts-noto-cjk): first a known family in matplotlib's font list, then font files that
matplotlib's font manager finds on the system but has not listed yet (its list is cached,
so a font installed after matplotlib first ran is missing from it), then any listed font
that has a glyph for 我.
Text gets the family list [default font, CJK font]: matplotlib draws each
character with the first font of the list that has it, so Latin text keeps
the default look and Chinese characters come from the CJK font.
"""

import warnings

# families known to cover simplified Chinese, best first
KNOWN_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Sarasa Gothic SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
_PROBE = "我"  # a character every Chinese font has and DejaVu Sans lacks
# how to get one, in the warning and from `make demo`
INSTALL_HINT = "install one: Debian/Ubuntu `apt-get install fonts-wqy-microhei` (or fonts-noto-cjk)"

_found = None  # (family, path) or () when none, after the first search
_warned = False


def has_cjk(text):
    """True when `text` holds a CJK ideograph or CJK punctuation."""
    return any(
        "\u3000" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002fa1f"
        for ch in str(text)
    )


def _font_has(path, ch):
    from matplotlib.ft2font import FT2Font

    try:
        return FT2Font(path).get_char_index(ord(ch)) != 0
    except (OSError, RuntimeError, ValueError):
        return False


def _unlisted_system_fonts(fm):
    """Font files on the system that matplotlib's (cached) font list lacks, registered with it now."""
    listed = {entry.fname for entry in fm.fontManager.ttflist}
    added = {}
    for path in sorted(fm.findSystemFonts()):
        if path in listed or not _font_has(path, _PROBE):
            continue
        before = len(fm.fontManager.ttflist)
        try:
            fm.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
        for entry in fm.fontManager.ttflist[before:]:
            added.setdefault(entry.name, path)
    return added


def _search():
    from matplotlib import font_manager as fm

    by_name = {}
    for entry in fm.fontManager.ttflist:
        by_name.setdefault(entry.name, entry.fname)
    for family in KNOWN_CJK_FAMILIES:
        if family in by_name and _font_has(by_name[family], _PROBE):
            return family, by_name[family]
    added = _unlisted_system_fonts(fm)
    for family in KNOWN_CJK_FAMILIES:
        if family in added:
            return family, added[family]
    if added:
        return min(added.items())
    for name, path in sorted(by_name.items()):
        if _font_has(path, _PROBE):
            return name, path
    return ()


def cjk_font():
    """(family, file) of the CJK font in use, or None when this machine has none."""
    global _found
    if _found is None:
        _found = _search()
    return _found or None


def families():
    """Font family list for text that may hold Chinese: [default font, CJK font]."""
    from matplotlib import font_manager as fm

    default = fm.FontProperties().get_name()
    found = cjk_font()
    return [default, found[0]] if found and found[0] != default else [default]


def apply(fig):
    """Give every text of `fig` the CJK-capable family list; warn once when none exists."""
    global _warned
    from matplotlib.text import Text

    texts = fig.findobj(Text)
    if cjk_font() is None:
        if not _warned and any(has_cjk(t.get_text()) for t in texts):
            warnings.warn(
                f"no CJK font found: Chinese characters will show as boxes; {INSTALL_HINT}",
                RuntimeWarning,
                stacklevel=3,
            )
            _warned = True
        return fig
    family = families()
    for text in texts:
        text.set_fontfamily(family)
    return fig
