"""The paper-format report, generated from the results store: `build` (the sections of the notebooks, the numbers
as macros, the PDF), `steps` (the experiments in the course brief's order), `findings` (verdicts in words),
`sections` (the sections of builders of their own: visual analysis, kNN, the course reports, the closing
questions), `data` (the datasets section) and `tex` (tables, figures and captions in LaTeX).

    python -m vpr_lib.report [--no-pdf] [--allow-empty]
"""
