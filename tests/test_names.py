import pytest

from conftest import REAL_NAMES, SF_TEST_QUERY, TOKYO_QUERY
from vpr_lib.data.names import format_name, parse_name
from vpr_lib.errors import VPRInputError


@pytest.mark.parametrize("name", REAL_NAMES)
def test_every_real_example_name_parses(name):
    parsed = parse_name(name)
    assert parsed.east == float(name.split("@")[1])
    assert parsed.north == float(name.split("@")[2])


def test_fields_of_a_gsv_name():
    n = parse_name(REAL_NAMES[0])
    assert (n.zone, n.letter, n.pano_id, n.heading, n.timestamp, n.note) == (
        "53", "S", "YZgpijwd1UBMBDuU-ZIr1A", "295", "201604", "3183_Osaka")
    assert n.heading_deg == 295


def test_tokyo_query_quirk_keeps_jpg_in_pano_id():
    n = parse_name(TOKYO_QUERY)
    assert n.pano_id == "00738.jpg" and n.east == 381548.01


def test_only_the_file_name_is_parsed(tmp_path):
    assert parse_name(f"/data/a@b@c/{REAL_NAMES[2]}").north == 4175258.88


def test_heading_is_taken_modulo_360():
    name = REAL_NAMES[0].replace("@@295@", "@@731@")
    assert parse_name(name).heading_deg == 11


def test_wrong_number_of_fields_names_the_file():
    with pytest.raises(VPRInputError, match=r"bad@name\.jpg.*found 2 '@'-separated fields, expected"):
        parse_name("/x/bad@name.jpg")


def test_non_numeric_utm_names_the_file():
    bad = REAL_NAMES[2].replace("0553003.03", "east")
    with pytest.raises(VPRInputError, match="not numbers"):
        parse_name(bad)


def test_format_matches_the_real_widths():
    name = format_name(553003.03, 4175258.88, 10, "S", 37.72306, -122.39856, "2cimd-inpG5ocC4IY7Go-A",
                       heading=120, timestamp="201712")
    assert name == REAL_NAMES[2]
    tokyo_db = format_name(382782.92, 3946963.72, 54, "S", 35.65957, 139.70501, "5itPqm8M6VJqiqXAfAVqyg", tile=0)
    assert tokyo_db == REAL_NAMES[4]


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_non_finite_utm_names_the_file(bad):
    """Issue 31, item 9: a `nan` UTM gave an sklearn traceback that did not name the file."""
    name = SF_TEST_QUERY.replace("0549429.48", bad)
    with pytest.raises(VPRInputError, match=rf"Malformed file name .*@{bad}@.*not finite numbers"):
        parse_name(f"/data/sf_xs/test/queries/{name}")
