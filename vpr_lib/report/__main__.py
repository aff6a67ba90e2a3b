"""python -m vpr_lib.report: generate report/generated/ from the results store and build the PDF."""
import sys

from vpr_lib.process import stoppable
from vpr_lib.report.build import main

sys.exit(stoppable(main)())  # a stop exits 130 (INT) or 143 (TERM); the step dies with run_all.sh
