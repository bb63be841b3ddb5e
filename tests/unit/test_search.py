"""The address search of the resident page: folding, parsing, normalising and matching (Python side).

The same cases run through the page's script in Chromium (tests/integration/test_resident_page.py), which
must give the same answers: :data:`NORMALISE_CASES` and :data:`MATCH_QUERIES` over :data:`ADDRESSES`.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from floodsim.maps.cards import report_slug
from floodsim.maps.search import (
    MAX_RESULTS,
    SEARCH_JS,
    Number,
    fold,
    link_addresses,
    make_entry,
    match,
    normalise,
    parse,
    street_part,
)
from floodsim.maps.safe import JINJA_DELIMITERS

#: text -> its normal form.
NORMALISE_CASES = {
    "12-14 Smith St": "smith street 12-14",
    "12–14, SMITH STREET": "smith street 12-14",
    "14 - 12 Smith St.": "smith street 12-14",
    "12A Smith St": "smith street 12a",
    "12 a smith st": "smith street 12a",
    "Nørregade 7B, 2. th": "norregade th 7b 2",
    "Nørreg. 7 B": "norregade 7b",
    "Strandv. 3": "strandvej 3",
    "Strand V. 3": "strand vej 3",
    "Vester G. 9": "vester gade 9",
    "Hauptstr. 5": "hauptstrasse 5",
    "Große Straße 1": "grosse strasse 1",
    "GROSSE STRASSE 1": "grosse strasse 1",
    "Ærøskøbing Åvej": "aeroskobing avej",
    "Œuvre Ðorđe Łódź Þingvellir": "oeuvre dorde lodz thingvellir",
    "Café  Crème   Rd": "cafe creme road",
    "ﬁeld Ave": "field avenue",
    "Ｆｕｌｌ Ｗｉｄｔｈ ２": "full width 2",
    "İstanbul Cd": "istanbul cd",
    "ΟΔΟΣ Σ": "οδοσ σ",
    "house019": "house019",
    "{{7*7}}": "7 7",
    "<script>alert(1)</script>": "script alert script 1",
    "line\u2028sep\u2029para": "line sep para",
    "quotes '\" here": "quotes here",
    "1e38": "1e38",
    "NaN": "nan",
    "1234567 Long Rd": "1234567 long road",
    "": "",
    "--- ,,, ...": "",
}

#: The addresses the match cases search (in this order: the index order breaks ties).
ADDRESSES = (
    "12-14 Smith St, Merewether NSW 2291",
    "13 Smith Street",
    "12A Smith St",
    "12 Smith St",
    "4 Smithfield Rd",
    "Nørregade 7B, 1165 København K",
    "Strandvej 3, Ærø",
    "Große Straße 1",
    "{{7*7}} Jinja Lane",
    "</script><b>x</b> Tag Ave 2",
    "house019",
)

#: query -> the texts of the expected results, best first (None: only check JS equals Python).
MATCH_QUERIES = {
    "13 smith street": ["13 Smith Street", "12-14 Smith St, Merewether NSW 2291"],
    "13 SMITH ST": ["13 Smith Street", "12-14 Smith St, Merewether NSW 2291"],
    "12a": ["12A Smith St", "12-14 Smith St, Merewether NSW 2291", "12 Smith St"],
    "12A smith": ["12A Smith St", "12-14 Smith St, Merewether NSW 2291", "12 Smith St"],
    "12b smith": ["12-14 Smith St, Merewether NSW 2291", "12 Smith St"],
    "norregade 7b": ["Nørregade 7B, 1165 København K"],
    "NØRREG. 7": ["Nørregade 7B, 1165 København K"],
    "strandv 3": ["Strandvej 3, Ærø"],
    "aero": ["Strandvej 3, Ærø"],
    "grosse strasse": ["Große Straße 1"],
    "große str": ["Große Straße 1"],
    "smithf": ["4 Smithfield Rd"],
    "4 smithfield road": ["4 Smithfield Rd"],
    "house01": ["house019"],
    "{{7*7}}": None,
    "jinja": ["{{7*7}} Jinja Lane"],
    "</script>": None,
    "tag avenue 2": ["</script><b>x</b> Tag Ave 2"],
    "smith st 1": None,
    "smi": None,
    "nowhere street": [],
    "": [],
    "   ": [],
}


@pytest.mark.parametrize("text,expected", NORMALISE_CASES.items())
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_fold_is_case_accent_and_letter_insensitive():
    assert fold("ÆRØ Straße") == fold("aero strasse") == "aero strasse"
    assert fold("Åbenrå") == "abenra" and fold("Île-de-France") == "ile-de-france"
    assert fold(None) == "" and fold(12) == "12"


def test_parse_numbers_and_ranges():
    p = parse("12-14 Smith St")
    assert p.words == ("smith", "st") and p.numbers == (Number(12, 14),)
    assert parse("14–12").numbers == (Number(12, 14),)             # en dash, reversed
    assert parse("12A").numbers == (Number(12, 12, "a"),)
    assert parse("12 a").numbers == (Number(12, 12, "a"),)         # a letter after a number
    assert parse("12a-12a").numbers == (Number(12, 12, "a"),)
    assert parse("12a-14b").numbers == (Number(12, 14),)           # a range carries no letter
    long = parse("12345678")                                       # too long for a house number
    assert long.numbers == () and long.words == ("12345678",)
    assert parse("12").ends_with_number and not parse("12 smith").ends_with_number


def test_abbreviations_match_their_full_words():
    entries = [make_entry(a, "a") for a in ADDRESSES]
    for q in ("13 smith st", "13 smith st.", "13 smith street", "13 Smith STREET"):
        assert match(entries, q)[0][1].text == "13 Smith Street", q
    vej = [make_entry("Strand Vej 3", "a")]
    assert match(vej, "strand v. 3") and match(vej, "STRAND VEJ 3")


@pytest.mark.parametrize("query,expected", MATCH_QUERIES.items())
def test_match(query, expected):
    entries = [make_entry(a, "a") for a in ADDRESSES]
    got = [e.text for _, e in match(entries, query)]
    if expected is not None:
        assert got == expected
    assert len(got) <= MAX_RESULTS


def test_house_number_ranges_and_letters_score_in_order():
    entries = [make_entry(a, "a") for a in ADDRESSES]
    scores = {e.text: s for s, e in match(entries, "12a smith")}
    assert scores["12A Smith St"] > scores["12-14 Smith St, Merewether NSW 2291"] > scores["12 Smith St"]
    assert not any("13" in t for t in scores)
    # typing a house number: "1" finds 12, 13 and the range as prefixes, but nothing outside Smith St
    assert {e.text for _, e in match(entries, "smith street 1")} == {
        "12-14 Smith St, Merewether NSW 2291", "13 Smith Street", "12A Smith St", "12 Smith St"}


def test_hostile_strings_are_searchable_and_kept_verbatim():
    hostile = ["{{7*7}}", "</script><script>alert(1)</script>", "line\u2028separator", "${7*7}", "quotes '\""]
    entries = [make_entry(f"{h} Main St {k}", "a") for k, h in enumerate(hostile)]
    assert [e.text for e in entries] == [f"{h} Main St {k}" for k, h in enumerate(hostile)]
    assert match(entries, "main st 3")[0][1].text == f"{hostile[3]} Main St 3"
    assert make_entry("<>{}", "a") is None and make_entry("", "a") is None


def test_street_part():
    assert street_part("12-14 Smith St, Merewether NSW 2291") == "Smith St"
    assert street_part("Nørregade 7B, 2. th") == "Nørregade"
    assert street_part("12 A Smith St") == "Smith St"
    assert street_part("Flat 3, 12 Smith St") == "Flat"
    assert street_part("12") == ""


def test_link_addresses_inside_then_nearest_within_distance():
    buildings = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)],
                                 crs="EPSG:28356")
    addresses = gpd.GeoDataFrame(
        {"address": ["in a", "in b", "3 m from b", "50 m from all", "polygon over b", "empty"]},
        geometry=[Point(5, 5), Point(25, 5), Point(33, 5), Point(100, 100), box(21, 1, 29, 9), Point()],
        crs="EPSG:28356",
    )
    assert link_addresses(addresses, buildings) == [0, 1, 1, None, 1, None]
    # another CRS is brought to the buildings' (EPSG:4326 points of the same places)
    assert link_addresses(addresses.iloc[:4].to_crs(4326), buildings) == [0, 1, 1, None]
    assert link_addresses(addresses, None) == [None] * 6


def test_report_slug_is_safe_and_distinct():
    a, b = report_slug("12 Smith St"), report_slug("12 Smith St.")
    assert a != b and a.startswith("12-smith-st-") and len(a) == len("12-smith-st-") + 8
    for label in ("../../etc/passwd", "<script>", "{{7*7}}", "", "Ærø 1", "x" * 500):
        s = report_slug(label)
        assert s.replace("-", "").isalnum() and s.isascii() and len(s) <= 60 + 9 and "/" not in s
    assert report_slug("Ærø 1").startswith("aero-1-")


def test_page_script_has_no_template_delimiters():
    for d in JINJA_DELIMITERS:
        assert d not in SEARCH_JS
