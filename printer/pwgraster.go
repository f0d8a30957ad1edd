package printer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"io"
)

// PWG Raster (PWG 5102.4) is the page format every IPP Everywhere printer accepts and CUPS
// queues take as well; it is what a card's front and back travel in, as the two pages of one
// document. Each page is a 1796-byte header followed by the lines of the page, compressed: a line
// repeat count, then runs of a repeated pixel or of literal pixels.
//
// The media is portrait (ISO CR80 is x = 53.98 mm, the short edge, by y = 85.60 mm), so a page is
// 638 × 1011 pixels: the landscape face turned a quarter turn clockwise, its top edge along the
// page's right edge.
//
// The back is laid out as on a bank card: turning the card over left to right shows the back
// upright, with the magnetic stripe along the same physical edge as the front's top. On the
// portrait page that turn is about the page's short edge, so two-sided-short-edge takes the back
// turned like the front; two-sided-long-edge turns the sheet the other way and takes the back
// turned a half turn more. On top of that the printer's pwg-raster-document-sheet-back says how
// it feeds the back (PWG 5102.4; Wi-Fi Direct Print Services table 20), and the back page is
// mirrored to match, as CrossFeedTransform and FeedTransform record.
const (
	pwgHeaderSize = 1796
	pageWidth     = FaceHeight // 638 px across the short edge of the media
	pageHeight    = FaceWidth  // 1011 px along the long edge
)

// RasterOptions describe the print job that the raster pages belong to.
type RasterOptions struct {
	MediaName string // the media keyword the printer reported, e.g. om_cr80_53.98x85.6mm
	Sides     string // one-sided (or ""), two-sided-short-edge or two-sided-long-edge
	SheetBack string // the printer's pwg-raster-document-sheet-back: normal (or ""), flipped, rotated, manual-tumble
}

// pageTransform is how one page's image is laid on the page beyond the quarter turn.
type pageTransform struct {
	mirrorX, mirrorY bool // reverse each line; reverse the order of lines
	cross, feed      int  // the header's CrossFeedTransform and FeedTransform: 1 or -1
}

// transform returns the transform of page i (0-based): fronts as they are, backs as the sides
// and the printer's sheet-back need.
func (o RasterOptions) transform(i int) pageTransform {
	t := pageTransform{cross: 1, feed: 1}
	if i%2 == 0 || (o.Sides != "two-sided-short-edge" && o.Sides != "two-sided-long-edge") {
		return t
	}
	long := o.Sides == "two-sided-long-edge"
	if long {
		t.mirrorX, t.mirrorY = true, true // a half turn
	}
	switch {
	case long && o.SheetBack == "flipped":
		t.feed = -1
	case long && o.SheetBack == "rotated", !long && o.SheetBack == "manual-tumble":
		t.cross, t.feed = -1, -1
	case !long && o.SheetBack == "flipped":
		t.cross = -1
	}
	t.mirrorX = t.mirrorX != (t.cross < 0)
	t.mirrorY = t.mirrorY != (t.feed < 0)
	return t
}

// EncodeRaster writes the faces, in order (front, then back), as the pages of one PWG Raster
// document in 8-bit sRGB at 300 dpi.
func EncodeRaster(w io.Writer, opts RasterOptions, faces ...*image.RGBA) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("RaS2"); err != nil {
		return fmt.Errorf("encode PWG raster: %w", err)
	}
	const tile = 16 // page lines made at a time: one 64-byte cache line of each face row
	stride := 3 * pageWidth
	ls := stride + 1 // a spare byte after each line: pixels are stored 4 bytes at a time
	lines := make([]byte, tile*ls)
	held := make([]byte, stride) // the line waiting to be written, with its repeat count
	var packed []byte
	for i, face := range faces {
		if face.Bounds().Dx() != FaceWidth || face.Bounds().Dy() != FaceHeight {
			return fmt.Errorf("encode PWG raster: face %d is %v, want %d×%d", i+1, face.Bounds().Size(), FaceWidth, FaceHeight)
		}
		tf := opts.transform(i)
		if _, err := bw.Write(pwgHeader(opts, len(faces), tf)); err != nil {
			return fmt.Errorf("encode PWG raster: %w", err)
		}
		rep := 0
		flush := func() error {
			packed = append(packed[:0], byte(rep-1))
			packed = packLine(packed, held)
			_, err := bw.Write(packed)
			return err
		}
		// Page line x is face column x read bottom to top: the face turned clockwise (mirrored:
		// read top to bottom; lines in reverse order: the last column first). Each pixel goes in
		// as 4 bytes (RGBA), the next pixel overwriting the A, so lines fill from their start.
		tiles := (FaceWidth + tile - 1) / tile
		for ti := 0; ti < tiles; ti++ {
			t := ti
			if tf.mirrorY {
				t = tiles - 1 - ti
			}
			x0 := t * tile
			n := min(tile, FaceWidth-x0)
			for o := 0; o < stride; o += 3 {
				y := pageWidth - 1 - o/3
				if tf.mirrorX {
					y = o / 3
				}
				src := face.Pix[face.PixOffset(face.Rect.Min.X+x0, face.Rect.Min.Y+y):]
				src = src[:4*n]
				for k := 0; k < n; k++ {
					binary.LittleEndian.PutUint32(lines[k*ls+o:k*ls+o+4], binary.LittleEndian.Uint32(src[4*k:4*k+4]))
				}
			}
			for kk := 0; kk < n; kk++ {
				k := kk
				if tf.mirrorY {
					k = n - 1 - kk
				}
				line := lines[k*ls : k*ls+stride]
				if rep > 0 && rep < 256 && bytes.Equal(line, held) {
					rep++
					continue
				}
				if rep > 0 {
					if err := flush(); err != nil {
						return fmt.Errorf("encode PWG raster: %w", err)
					}
				}
				copy(held, line)
				rep = 1
			}
		}
		if err := flush(); err != nil {
			return fmt.Errorf("encode PWG raster: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode PWG raster: %w", err)
	}
	return nil
}

// packLine appends one line of 3-byte pixels in PWG's run-length code: a byte n < 128 means the
// next pixel repeats n+1 times; a byte 257−n (129…255) means n (2…128) literal pixels follow.
func packLine(dst, line []byte) []byte {
	n := len(line) / 3
	px := func(i int) []byte { return line[3*i : 3*i+3] }
	same := func(i, j int) bool {
		return line[3*i] == line[3*j] && line[3*i+1] == line[3*j+1] && line[3*i+2] == line[3*j+2]
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && j-i < 128 && same(i, j) {
			j++
		}
		if j-i > 1 || j == n {
			dst = append(dst, byte(j-i-1))
			dst = append(dst, px(i)...)
			i = j
			continue
		}
		// literal run: up to the next pair of equal pixels
		j = i + 1
		for j < n && j-i < 128 && (j+1 >= n || !same(j, j+1)) {
			j++
		}
		if j-i == 1 {
			dst = append(dst, 0)
		} else {
			dst = append(dst, byte(257-(j-i)))
		}
		dst = append(dst, line[3*i:3*j]...)
		i = j
	}
	return dst
}

// pwgHeader builds one page header. Offsets are those of PWG 5102.4 section 4.3 (big-endian).
func pwgHeader(opts RasterOptions, pages int, tf pageTransform) []byte {
	h := make([]byte, pwgHeaderSize)
	str := func(off int, s string) { copy(h[off:off+63], s) }
	u32 := func(off int, v uint32) { binary.BigEndian.PutUint32(h[off:], v) }
	str(0, "PwgRaster") // MediaClass
	if opts.Sides == "two-sided-long-edge" || opts.Sides == "two-sided-short-edge" {
		u32(272, 1) // Duplex
	}
	if opts.Sides == "two-sided-short-edge" {
		u32(368, 1) // Tumble: short-edge binding
	}
	u32(276, DPI) // HWResolution
	u32(280, DPI)
	// PageSize in points, the media's size rounded: 53.98 × 85.60 mm = 153 × 243 pt.
	u32(352, (pageWidth*72+DPI/2)/DPI)
	u32(356, (pageHeight*72+DPI/2)/DPI)
	u32(372, pageWidth)
	u32(376, pageHeight)
	u32(384, 8)                       // BitsPerColor
	u32(388, 24)                      // BitsPerPixel
	u32(392, 3*pageWidth)             // BytesPerLine
	u32(396, 0)                       // ColorOrder: chunky
	u32(400, 19)                      // ColorSpace: sRGB
	u32(420, 3)                       // NumColors
	u32(452, uint32(pages))           // TotalPageCount
	u32(456, uint32(int32(tf.cross))) // CrossFeedTransform
	u32(460, uint32(int32(tf.feed)))  // FeedTransform
	u32(472, pageWidth)               // ImageBoxRight
	u32(476, pageHeight)              // ImageBoxBottom
	u32(480, 0x00ffffff)              // AlternatePrimary: white
	str(1732, opts.MediaName)
	return h
}
