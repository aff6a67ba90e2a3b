"""vpr_lib: the reference kit for studying visual place recognition (VPR)."""
__version__ = "0.1.0"
