#!/usr/bin/env bash
# Debian packages that some tests and the report need: `browser` (headless Chromium for the widget test),
# `tex` (TeX Live + latexmk + poppler for report/main.pdf, ~180 MB download), `slurm` (slurm-wlm + munge for the
# single-node cluster of the dispatch tests, scripts/slurm_cluster.sh).  Installs them when run as root (CI);
# otherwise prints the command to run.  Usage: install_system_deps.sh browser tex slurm
set -euo pipefail
packages=()
for want in "$@"; do
    case "$want" in
        browser) command -v chromium >/dev/null || packages+=(chromium chromium-driver fonts-liberation) ;;
        tex) command -v latexmk >/dev/null && command -v pdftotext >/dev/null ||
                 packages+=(texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-science
                            texlive-fonts-recommended latexmk poppler-utils) ;;
        slurm) command -v slurmctld >/dev/null && command -v munged >/dev/null || packages+=(slurm-wlm munge) ;;
        *) echo "install_system_deps.sh: unknown group '$want' (expected: browser, tex, slurm)" >&2; exit 2 ;;
    esac
done
[ ${#packages[@]} -eq 0 ] && exit 0
command="apt-get install -y --no-install-recommends ${packages[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages. Run: sudo $command" >&2
    exit 1
fi
echo "[setup] $command"
DEBIAN_FRONTEND=noninteractive $command >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive $command >/dev/null; }
