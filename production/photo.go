package production

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	jpegenc "cardline/internal/jpeg"
	"cardline/printer"
)

// A Photo is the holder's portrait as the line keeps it: decoded from what upstream sent and
// re-encoded by us as JPEG, so no byte of the untrusted upload reaches a printer, a PDF or disk.
type Photo struct {
	JPEG          []byte
	Width, Height int
}

// Photo rules. A card's photo box is about 22 × 28 mm; at 300 dpi that is 260 × 330 pixels, so
// 300 × 400 is the least that prints sharp. The upper bounds stop decompression bombs: the pixel
// count is checked from the header before any pixel is decoded.
const (
	MinPhotoWidth    = 300
	MinPhotoHeight   = 400
	MaxPhotoBytes    = 5 << 20
	MaxPhotoPixels   = 12_000_000
	MaxPhotoAspect   = 2.0 // height / width
	photoJPEGQuality = 90
)

// decodePhoto checks a photo against the rules and returns the decoded image. The content type must
// match what the bytes are.
func decodePhoto(contentType, b64 string) (image.Image, []Problem) {
	var ps []Problem
	add := func(field, rule, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	var format string
	switch contentType {
	case "image/jpeg":
		format = "jpeg"
	case "image/png":
		format = "png"
	default:
		add("content_type", "photo-format", "must be image/jpeg or image/png, not %q", contentType)
	}
	if base64.StdEncoding.DecodedLen(len(b64)) > MaxPhotoBytes+3 {
		add("data", "photo-size", "photo is larger than %d bytes", MaxPhotoBytes)
		return nil, ps
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		add("data", "base64", "must be standard base64: %v", err)
		return nil, ps
	}
	if len(raw) == 0 {
		add("data", "required", "photo is missing")
		return nil, ps
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		add("data", "photo-decode", "is not a decodable JPEG or PNG image: %v", err)
		return nil, ps
	}
	if format != "" && got != format {
		add("content_type", "photo-format", "says %s but the data is %s", contentType, got)
	}
	if got != "jpeg" && got != "png" {
		add("data", "photo-format", "must be JPEG or PNG, not %s", got)
		return nil, ps
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPhotoPixels {
		add("data", "photo-pixels", "is %d×%d pixels; at most %d pixels allowed", cfg.Width, cfg.Height, MaxPhotoPixels)
		return nil, ps
	}
	if cfg.Width < MinPhotoWidth || cfg.Height < MinPhotoHeight {
		add("data", "photo-resolution", "is %d×%d pixels; at least %d×%d needed to print at 300 dpi", cfg.Width, cfg.Height, MinPhotoWidth, MinPhotoHeight)
	}
	if cfg.Height <= cfg.Width {
		add("data", "photo-portrait", "is %d×%d pixels; must be portrait (taller than wide)", cfg.Width, cfg.Height)
	} else if float64(cfg.Height)/float64(cfg.Width) > MaxPhotoAspect {
		add("data", "photo-portrait", "is %d×%d pixels; at most %.1f times taller than wide", cfg.Width, cfg.Height, MaxPhotoAspect)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	var img image.Image
	switch box := printer.PhotoSize(); {
	case got == "jpeg" && (cfg.Width+7)/8 >= box.X && (cfg.Height+7)/8 >= box.Y:
		// A photo eight times the box or more (a phone's, say) is only ever shrunk: its 8 × 8
		// block means are the first step of that, and decoding just those skips the inverse
		// DCTs, most of a full decode (12 megapixels: about 150 ms in full).
		img, err = jpegenc.DecodeReduced(raw)
		if errors.Is(err, jpegenc.ErrUnsupported) {
			img, err = jpeg.Decode(bytes.NewReader(raw))
		}
	case got == "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(raw))
	default:
		img, err = png.Decode(bytes.NewReader(raw))
	}
	if err != nil {
		add("data", "photo-decode", "header is valid but the image does not decode: %v", err)
		return nil, ps
	}
	return img, nil
}

// encodePhoto re-encodes a checked photo for storage: the print-ready copy, cropped and scaled to
// the card's photo box at 300 dpi (printer.FitPhoto, 260 × 331 px), which is all that is ever
// printed, on the card and on the temporary card (the same box, the same crop). Keeping no more
// than that is data minimisation, makes the stored copy about 15 kB, and saves every print and
// every temporary card the decoding and scaling of a large photo.
func encodePhoto(img image.Image) (Photo, error) {
	if y, ok := img.(*image.YCbCr); ok { // a JPEG upload: fitted without leaving YCbCr
		img = printer.FitPhotoYCbCr(y)
	} else {
		img = printer.FitPhoto(img)
	}
	// Our own baseline encoder, not image/jpeg's: about four times faster on this photo, with the
	// same tables, size and fidelity (internal/jpeg's tests hold it to image/jpeg's).
	var enc jpegenc.Encoder
	out, err := enc.Append(nil, img, photoJPEGQuality)
	if err != nil {
		return Photo{}, fmt.Errorf("re-encode photo: %w", err)
	}
	b := img.Bounds()
	return Photo{JPEG: out, Width: b.Dx(), Height: b.Dy()}, nil
}

// DecodePhoto decodes a stored photo.
func (p Photo) Decode() (image.Image, error) {
	img, err := jpeg.Decode(bytes.NewReader(p.JPEG))
	if err != nil {
		return nil, fmt.Errorf("decode stored photo: %w", err)
	}
	return img, nil
}
