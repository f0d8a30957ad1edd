#!/usr/bin/env bash
# Installs the Debian packages that cardline's demo and tests use, only those missing.
# Idempotent: a machine that has them all runs no apt-get at all.
set -euo pipefail

packages=(
  postgresql          # throwaway clusters for tests and the demo (initdb, pg_ctl)
  pcscd               # the real PC/SC daemon
  libpcsclite-dev     # cgo headers for github.com/ebfe/scard
  vsmartcard-vpcd     # virtual reader driver our card emulator talks to
  cups-ipp-utils      # ippeveprinter: a real IPP Everywhere printer
  dbus-daemon         # ippeveprinter wants a D-Bus bus
  cups-daemon         # cupsd: a private CUPS queue in front of ippeveprinter (printer tests)
  cups-client         # lpadmin -m everywhere, to make that queue
  cups-filters        # rastertopdf: CUPS's own reader of the PWG Raster we send card printers
  qpdf                # qpdf --check on generated PDFs
  poppler-utils       # pdftotext, pdftoppm
  fonts-dejavu-core   # a TrueType font with composite glyphs, for the PDF font subset test
  zbar-tools          # zbarimg: an independent QR/barcode decoder
  libjpeg-turbo-progs # cjpeg: JPEGs of every sampling, with restart markers or progressive, for our decoder
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing missing packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
