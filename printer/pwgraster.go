package printer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"slices"
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
	return encodeRaster(w, opts, faces, "face", image.Pt(FaceWidth, FaceHeight), (*rasterEncoder).page)
}

// EncodePages is EncodeRaster of faces already turned onto their pages, as RenderPagesInto draws
// them (pageWidth × pageHeight): the same document, without turning each face per card.
func EncodePages(w io.Writer, opts RasterOptions, pages ...*image.RGBA) error {
	return encodeRaster(w, opts, pages, "page image", image.Pt(pageWidth, pageHeight), (*rasterEncoder).upright)
}

// encodeRaster writes the document of imgs, each of the given size and laid on its page by page.
func encodeRaster(w io.Writer, opts RasterOptions, imgs []*image.RGBA, what string, size image.Point,
	page func(*rasterEncoder, *image.RGBA, pageTransform) error) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("RaS2"); err != nil {
		return fmt.Errorf("encode PWG raster: %w", err)
	}
	e := &rasterEncoder{w: bw}
	for i, img := range imgs {
		if img.Bounds().Size() != size {
			return fmt.Errorf("encode PWG raster: %s %d is %v, want %d×%d", what, i+1, img.Bounds().Size(), size.X, size.Y)
		}
		tf := opts.transform(i)
		if _, err := bw.Write(pwgHeader(opts, len(imgs), tf)); err != nil {
			return fmt.Errorf("encode PWG raster: %w", err)
		}
		if err := page(e, img, tf); err != nil {
			return fmt.Errorf("encode PWG raster: page %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode PWG raster: %w", err)
	}
	return nil
}

// rasterTile is how many page lines are turned out of the face at a time: 64 pixels of a face
// row are four 64-byte cache lines, and 64 page lines (160 KB) stay in the L2 cache while they
// fill. Narrower tiles leave the encoder waiting on one cache miss per face row.
const rasterTile = 64

// rasterEncoder holds the buffers of one EncodeRaster call. A line is held as its pixels' RGBA
// bytes, 4 a pixel as in *image.RGBA; the alpha byte, which the page does not carry, is ignored
// wherever two pixels or two lines are compared (see sameRGB) and never written out.
type rasterEncoder struct {
	w     io.Writer
	lines [][4 * pageWidth]byte // rasterTile lines, made by the first page that turns a face
	// held is the line waiting to be written: heldBuf, or a row of the page image being encoded,
	// which stays put while its page is written.
	held    []byte
	heldBuf [4 * pageWidth]byte
	rev     [4 * pageWidth]byte // a page row reversed (mirrorX)
	rep     int                 // how many times held repeats; 0 before the first line of a page
	packed  []byte
}

// page writes the lines of one page. Page line x is face column x read bottom to top: the face
// turned clockwise (mirrorX: read top to bottom; mirrorY: lines in reverse order, the last column
// first).
func (e *rasterEncoder) page(face *image.RGBA, tf pageTransform) error {
	e.rep = 0
	if e.lines == nil {
		e.lines = make([][4 * pageWidth]byte, rasterTile)
	}
	const tiles = (FaceWidth + rasterTile - 1) / rasterTile
	for ti := range tiles {
		t := ti
		if tf.mirrorY {
			t = tiles - 1 - ti
		}
		x0 := t * rasterTile
		n := min(rasterTile, FaceWidth-x0)
		e.turn(face, x0, n, tf.mirrorX)
		for kk := range n {
			k := kk
			if tf.mirrorY {
				k = n - 1 - kk
			}
			if err := e.line(e.lines[k][:], false); err != nil {
				return err
			}
		}
	}
	return e.flush()
}

// turn fills e.lines[0:n] with face columns x0 … x0+n-1 as page lines. It walks the face rows
// in memory order; each row gives a run of rasterTile pixels, so that a page crossing (a face
// row is about 4 KB) fetches several cache lines at once.
func (e *rasterEncoder) turn(face *image.RGBA, x0, n int, mirrorX bool) {
	lines := e.lines[:n]
	// Eight face rows at a time: each page line then takes eight neighbouring pixels (32 bytes)
	// at once, and the eight row segments read stay in the L1 cache while every line takes its
	// share.
	const block = 8
	var rows [block][]byte
	for y0 := 0; y0 < pageWidth; y0 += block {
		m := min(block, pageWidth-y0)
		for r := range m {
			off := face.PixOffset(face.Rect.Min.X+x0, face.Rect.Min.Y+y0+r)
			rows[r] = face.Pix[off : off+4*n : off+4*n]
		}
		if m == block && !mirrorX {
			// Page position of row y is pageWidth-1-y: the block's rows land at p … p-7.
			p := 4 * (pageWidth - 1 - y0 - (block - 1))
			for k := range lines {
				dst := (*[4 * block]byte)(lines[k][p : p+4*block])
				i := 4 * k
				copy(dst[28:32], rows[0][i:i+4])
				copy(dst[24:28], rows[1][i:i+4])
				copy(dst[20:24], rows[2][i:i+4])
				copy(dst[16:20], rows[3][i:i+4])
				copy(dst[12:16], rows[4][i:i+4])
				copy(dst[8:12], rows[5][i:i+4])
				copy(dst[4:8], rows[6][i:i+4])
				copy(dst[0:4], rows[7][i:i+4])
			}
			continue
		}
		for r := range m {
			p := pageWidth - 1 - (y0 + r)
			if mirrorX {
				p = y0 + r
			}
			src := rows[r]
			for k := range lines {
				copy(lines[k][4*p:4*p+4], src[4*k:4*k+4])
			}
		}
	}
}

// upright writes the lines of a page image already in page orientation: its rows are the page
// lines (mirrorX: each row reversed; mirrorY: the rows in reverse order). Rows are packed where
// they lie, with no copy, unless reversed.
func (e *rasterEncoder) upright(img *image.RGBA, tf pageTransform) error {
	e.rep = 0
	for k := range pageHeight {
		y := k
		if tf.mirrorY {
			y = pageHeight - 1 - k
		}
		off := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y)
		row := img.Pix[off : off+4*pageWidth : off+4*pageWidth]
		stays := true
		if tf.mirrorX {
			src, dst := (*[4 * pageWidth]byte)(row), &e.rev
			for p := range pageWidth {
				q := 4 * (pageWidth - 1 - p)
				copy(dst[q:q+4], src[4*p:4*p+4])
			}
			row, stays = dst[:], false
		}
		if err := e.line(row, stays); err != nil {
			return err
		}
	}
	return e.flush()
}

// line takes the next page line: another repeat of the held line, or a new one after writing
// the held line out. A repeat count is one byte, so a line repeats at most 256 times. A line that
// stays put until the page is written is held where it is; any other is copied.
func (e *rasterEncoder) line(l []byte, stays bool) error {
	if e.rep > 0 && e.rep < 256 && sameRGB(l, e.held) {
		e.rep++
		return nil
	}
	if err := e.flush(); err != nil {
		return err
	}
	if stays {
		e.held = l
	} else {
		e.held = e.heldBuf[:copy(e.heldBuf[:], l)]
	}
	e.rep = 1
	return nil
}

// rgbPair masks the alpha bytes out of two little-endian RGBA pixels read as one uint64.
const rgbPair = 0x00ffffff00ffffff

// sameRGB says whether two lines of pageWidth pixels have the same colours, alpha aside.
func sameRGB(a, b []byte) bool {
	x, y := (*[4 * pageWidth]byte)(a), (*[4 * pageWidth]byte)(b)
	for i := 0; i < 4*pageWidth; i += 8 {
		if (binary.LittleEndian.Uint64(x[i:])^binary.LittleEndian.Uint64(y[i:]))&rgbPair != 0 {
			return false
		}
	}
	return true
}

// flush writes the held line, if any, with its repeat count.
func (e *rasterEncoder) flush() error {
	if e.rep == 0 {
		return nil
	}
	e.packed = append(e.packed[:0], byte(e.rep-1))
	e.packed = packPixels(e.packed, e.held)
	e.rep = 0
	_, err := e.w.Write(e.packed)
	return err
}

// packLine appends one line of 3-byte pixels in PWG's run-length code (see packPixels).
func packLine(dst, line []byte) []byte {
	px := make([]byte, len(line)/3*4)
	for i := range len(line) / 3 {
		copy(px[4*i:4*i+3], line[3*i:3*i+3])
	}
	return packPixels(dst, px)
}

// packPixels appends one line of RGBA pixels (4 bytes each, the fourth ignored) in PWG's
// run-length code of 3-byte pixels: a byte n < 128 means the next pixel repeats n+1 times; a byte
// 257−n (129…255) means n (2…128) literal pixels follow. A run is taken wherever two neighbours
// are equal.
func packPixels(dst []byte, line []byte) []byte {
	const rgb = 0x00ffffff
	n := len(line) / 4
	line = line[:4*n]
	px := func(i int) uint32 { return binary.LittleEndian.Uint32(line[4*i:]) & rgb }
	// Room for the worst case, a count byte before every pixel, and a spare: each pixel is stored
	// as 4 bytes, the next one overwriting the fourth.
	dst = slices.Grow(dst, 4*n+1)
	out := dst[len(dst) : len(dst)+4*n+1]
	w := 0
	for i := 0; i < n; {
		v := px(i)
		end := min(n, i+128) // a run or a literal holds at most 128 pixels
		j := i + 1
		// Four pixels a step while the run lasts, then two, then one.
		vv := uint64(v) | uint64(v)<<32
		for j+3 < end {
			q := line[4*j : 4*j+16 : 4*j+16]
			if binary.LittleEndian.Uint64(q)&rgbPair != vv || binary.LittleEndian.Uint64(q[8:])&rgbPair != vv {
				break
			}
			j += 4
		}
		if j+1 < end && binary.LittleEndian.Uint64(line[4*j:])&rgbPair == vv {
			j += 2
		}
		if j < end && px(j) == v {
			j++
		}
		if j-i > 1 || j == n {
			out[w] = byte(j - i - 1)
			binary.LittleEndian.PutUint32(out[w+1:], v)
			w += 4
			i = j
			continue
		}
		// literal run: up to the next pair of equal pixels
		for cur := px(j); j < end; j++ {
			if j+1 == n {
				j++
				break
			}
			next := px(j + 1)
			if next == cur {
				break
			}
			cur = next
		}
		if j-i == 1 {
			out[w] = 0
		} else {
			out[w] = byte(257 - (j - i))
		}
		w++
		for k := i; k < j; k++ {
			binary.LittleEndian.PutUint32(out[w:], binary.LittleEndian.Uint32(line[4*k:]))
			w += 3
		}
		i = j
	}
	return dst[:len(dst)+w]
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
