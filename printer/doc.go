// Package printer is the stage of the line that puts a card on plastic: it lays out and renders
// the front and back of an HSE card (face.go, render.go), signs the status URL that the QR code
// carries (status.go), encodes the faces for a printer (png.go, pwgraster.go), and drives printer
// stations over IPP (ipp.go), turning what a printer reports into faults an operator understands
// (faults.go). ippeveprinter.go starts a virtual IPP Everywhere printer for tests and the demo.
//
// The package does not know the card store: callers hand it a Face with plain fields.
package printer
