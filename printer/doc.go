// Package printer is the stage of the line that puts a card on plastic: it lays out and renders
// the front and back of an HSE card, signs the status URL that the card's QR code carries, encodes
// the faces for a printer, and drives printer stations over IPP, turning what a printer reports
// into faults an operator understands. It does not know the card store: callers hand it a Face
// with plain fields (face.go).
//
// Card faces (render.go): ID-1/CR80, 85.60 × 53.98 mm at 300 dpi, 1011 × 638 pixels, landscape
// as the holder reads it, opaque 8-bit sRGB (*image.RGBA). The front has a colour band naming the
// card type in Norwegian and English (amber construction, green cleaning, blue transport), the
// photo (22 × 28 mm, cropped, never stretched), names, employer and organisation number, card
// number, date of birth and expiry. The back leaves the magnetic stripe zone (top 17 mm) blank and
// carries the status QR code, the card number, the property notice and where to return a found
// card. Text shrinks and wraps inside fixed boxes and is clipped to them. Rendering is
// deterministic; testdata/golden holds reference faces.
//
// Files: EncodePNG (png.go) writes a face as a 300 dpi PNG for previews; the printer gets both
// faces as the two pages of one PWG Raster document (pwgraster.go), turned a quarter turn onto
// the portrait CR80 media (638 × 1011 px per page).
//
// Status QR (status.go): StatusURL, VerifyStatusURL, QRModules and QRImage are shared with the
// temporary-card PDF, which must carry the same signed URL; it is set in the same Go fonts
// (internal/pdf.GoFonts).
//
// Printers (ipp.go, faults.go, media.go): Client speaks IPP over net/http with goipp to an IPP
// Everywhere printer or a CUPS queue; PrintCard chooses CR80 media by size from what the printer
// reports, prints duplex where it can, retries server-error-busy and watches the job to its end.
// StartVirtualPrinter (ippeveprinter.go) runs CUPS's ippeveprinter as a card or label printer
// that can play faults, for tests and the demo.
package printer
