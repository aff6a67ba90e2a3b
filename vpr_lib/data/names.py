"""The '@' file-name convention of the VPR datasets (gmberton/VPR-datasets-downloader).

``@east@north@zone@letter@lat@lon@pano_id@tile@heading@pitch@roll@height@timestamp@note@.jpg``
splits on '@' into 16 fields; only UTM east/north (fields 1-2) are required.  Tokyo-XS query
names keep '.jpg' inside the pano_id field (``…@00738.jpg@@@…``), which is accepted as is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vpr_lib.errors import VPRInputError

N_FIELDS = 16
FORMAT_HELP = ("'@east@north@zone@letter@lat@lon@pano_id@tile@heading@pitch@roll@height@timestamp@note@.jpg' "
               f"({N_FIELDS} '@'-separated fields, UTM east/north numeric)")


@dataclass(frozen=True)
class VPRName:
    east: float
    north: float
    zone: str = ""
    letter: str = ""
    lat: str = ""
    lon: str = ""
    pano_id: str = ""
    tile: str = ""
    heading: str = ""
    pitch: str = ""
    roll: str = ""
    height: str = ""
    timestamp: str = ""
    note: str = ""

    @property
    def heading_deg(self) -> float | None:
        """Heading in [0, 360) or None when the field is empty (GSV-XS has values -10…731)."""
        return float(self.heading) % 360 if self.heading else None


def parse_name(path: str | Path) -> VPRName:
    """Parse the file *name* (never the parent folders, which may contain '@')."""
    name = Path(path).name
    fields = name.split("@")
    if len(fields) != N_FIELDS:
        raise VPRInputError(
            f"Malformed file name {str(path)!r}: found {len(fields)} '@'-separated fields, expected "
            f"{FORMAT_HELP}.")
    try:
        east, north = float(fields[1]), float(fields[2])
    except ValueError:
        raise VPRInputError(
            f"Malformed file name {str(path)!r}: UTM east/north {fields[1]!r}/{fields[2]!r} are not numbers; "
            f"expected {FORMAT_HELP}.") from None
    if not (math.isfinite(east) and math.isfinite(north)):
        raise VPRInputError(
            f"Malformed file name {str(path)!r}: UTM east/north {fields[1]!r}/{fields[2]!r} are not finite numbers; "
            f"expected {FORMAT_HELP}.")
    return VPRName(east, north, *fields[3:15])


def format_name(east: float, north: float, zone: int | str = "", letter: str = "", lat: float | str = "",
                lon: float | str = "", pano_id: str = "", tile: int | str = "", heading: int | str = "",
                pitch: int | str = "", timestamp: str = "", note: str = "") -> str:
    """Write a name with the widths of the real datasets (UTM %010.2f, lat %09.5f, lon %010.5f)."""
    def fmt(value, spec):
        return "" if value == "" else format(value, spec)
    fields = ["", fmt(east, "010.2f"), fmt(north, "010.2f"), fmt(zone, "02d") if zone != "" else "", letter,
              fmt(lat, "09.5f"), fmt(lon, "010.5f"), pano_id, fmt(tile, "02d"), fmt(heading, "03d"),
              fmt(pitch, "03d"), "", "", timestamp, note, ".jpg"]
    return "@".join(fields)
