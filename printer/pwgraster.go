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
// page's right edge. For two-sided-long-edge on portrait media the back is printed the same way
// and lands the right way up behind the front.
const (
	pwgHeaderSize = 1796
	pageWidth     = FaceHeight // 638 px across the short edge of the media
	pageHeight    = FaceWidth  // 1011 px along the long edge
)

// RasterOptions describe the print job that the raster pages belong to.
type RasterOptions struct {
	MediaName string // the media keyword the printer reported, e.g. om_cr80_53.98x85.6mm
	Duplex    bool   // pages are the two sides of one sheet (two-sided-long-edge)
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
		if _, err := bw.Write(pwgHeader(opts, len(faces))); err != nil {
			return fmt.Errorf("encode PWG raster: %w", err)
		}
		rep := 0
		flush := func() error {
			packed = append(packed[:0], byte(rep-1))
			packed = packLine(packed, held)
			_, err := bw.Write(packed)
			return err
		}
		// Page line x is face column x read bottom to top: the face turned clockwise. Each
		// pixel goes in as 4 bytes (RGBA), the next pixel overwriting the A.
		for x0 := 0; x0 < FaceWidth; x0 += tile {
			n := min(tile, FaceWidth-x0)
			for y := FaceHeight - 1; y >= 0; y-- {
				src := face.Pix[face.PixOffset(face.Rect.Min.X+x0, face.Rect.Min.Y+y):]
				src = src[:4*n]
				o := 3 * (pageWidth - 1 - y)
				for k := 0; k < n; k++ {
					binary.LittleEndian.PutUint32(lines[k*ls+o:k*ls+o+4], binary.LittleEndian.Uint32(src[4*k:4*k+4]))
				}
			}
			for k := 0; k < n; k++ {
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
func pwgHeader(opts RasterOptions, pages int) []byte {
	h := make([]byte, pwgHeaderSize)
	str := func(off int, s string) { copy(h[off:off+63], s) }
	u32 := func(off int, v uint32) { binary.BigEndian.PutUint32(h[off:], v) }
	str(0, "PwgRaster") // MediaClass
	if opts.Duplex {
		u32(272, 1) // Duplex
	}
	u32(276, DPI) // HWResolution
	u32(280, DPI)
	// PageSize in points, the media's size rounded: 53.98 × 85.60 mm = 153 × 243 pt.
	u32(352, (pageWidth*72+DPI/2)/DPI)
	u32(356, (pageHeight*72+DPI/2)/DPI)
	u32(368, 0) // Tumble: long-edge binding
	u32(372, pageWidth)
	u32(376, pageHeight)
	u32(384, 8)             // BitsPerColor
	u32(388, 24)            // BitsPerPixel
	u32(392, 3*pageWidth)   // BytesPerLine
	u32(396, 0)             // ColorOrder: chunky
	u32(400, 19)            // ColorSpace: sRGB
	u32(420, 3)             // NumColors
	u32(452, uint32(pages)) // TotalPageCount
	u32(456, 1)             // CrossFeedTransform
	u32(460, 1)             // FeedTransform
	u32(472, pageWidth)     // ImageBoxRight
	u32(476, pageHeight)    // ImageBoxBottom
	u32(480, 0x00ffffff)    // AlternatePrimary: white
	str(1732, opts.MediaName)
	return h
}
