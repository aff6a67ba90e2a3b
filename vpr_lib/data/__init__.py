"""Readers of the real on-disk formats (used unchanged on SynthCity)."""
from vpr_lib.data.names import VPRName, format_name, parse_name
from vpr_lib.data.places import PlacesDataset, scan_gsv_cities, scan_gsv_xs
from vpr_lib.data.retrieval import RetrievalDataset

__all__ = ["VPRName", "format_name", "parse_name", "PlacesDataset", "scan_gsv_cities", "scan_gsv_xs",
           "RetrievalDataset"]
