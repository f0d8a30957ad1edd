// Package jpeg is a baseline JPEG (ITU-T T.81) encoder written for the line's stored photos:
// JFIF, 8-bit YCbCr with 4:2:0 chroma (or gray alone), the Annex K quantisation tables scaled
// by quality the IJG way, and the Annex K Huffman tables. It exists for speed: it works on the
// planes' bytes directly, uses a floating-point AAN forward DCT with quantisation folded into
// its scale factors, and keeps its scratch space in an Encoder so that a reused Encoder
// allocates nothing but the output. Any decoder that reads baseline JFIF (image/jpeg among
// them) reads its output.
//
// It also decodes, for one purpose only: DecodeReduced reads a large upload at an eighth of its
// size (each block's DC coefficient, its mean), which is all intake needs of a photo it will
// shrink to the card's photo box anyway, at a fraction of a full decode's time.
package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io"
	"math"
	"math/bits"
)

// MaxSize is the largest width or height a baseline JPEG frame header can carry.
const MaxSize = 65535

// An Encoder encodes images as baseline JFIF, 4:2:0 (gray images as gray). Its zero value is ready to use; reusing one
// reuses its buffers and the last quality's tables. An Encoder must not be used by two
// goroutines at once.
type Encoder struct {
	quality int         // quality the tables below are for; 0 before the first call
	qt      [2][64]byte // quantisation tables (luminance, chrominance) in zigzag order, for DQT
	div     [2][64]float32

	buf       []byte      // output of Encode
	y, cb, cr []byte      // planes converted from an image that is not YCbCr 4:2:0
	rgba      *image.RGBA // the generic path's copy of an image that is neither RGBA nor YCbCr

	edge [64]byte // an edge block, padded
	blk  [64]float32
	coef [128]byte // quantised coefficients: int16, little-endian, zigzag order
}

// Encode writes img to w as a baseline JPEG at quality 1..100 (IJG scale).
func Encode(w io.Writer, img image.Image, quality int) error {
	var e Encoder
	return e.Encode(w, img, quality)
}

// EncodeYCbCr writes img to w as a baseline JPEG at quality 1..100 (IJG scale). A 4:2:0 image
// with an even origin is encoded straight from its planes; any other ratio or origin has its
// chroma resampled to 4:2:0 first.
func EncodeYCbCr(w io.Writer, img *image.YCbCr, quality int) error {
	var e Encoder
	return e.Encode(w, img, quality)
}

// Encode writes img to w as a baseline JPEG at quality 1..100 (IJG scale). *image.YCbCr,
// *image.RGBA and *image.Gray (encoded as one component) are read directly; any other image is
// first drawn into an RGBA copy.
func (e *Encoder) Encode(w io.Writer, img image.Image, quality int) error {
	b, err := e.Append(e.buf[:0], img, quality)
	if err != nil {
		return err
	}
	e.buf = b
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write jpeg: %w", err)
	}
	return nil
}

// Append appends the baseline JPEG encoding of img at quality 1..100 (IJG scale) to dst and
// returns the extended slice. A quality outside 1..100 is an error (image/jpeg clamps it).
func (e *Encoder) Append(dst []byte, img image.Image, quality int) ([]byte, error) {
	if quality < 1 || quality > 100 {
		return dst, fmt.Errorf("jpeg: quality %d is outside 1..100", quality)
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if w <= 0 || h <= 0 {
		return dst, fmt.Errorf("jpeg: cannot encode an empty image (bounds %v)", r)
	}
	if w > MaxSize || h > MaxSize {
		return dst, fmt.Errorf("jpeg: image is %d×%d; at most %d pixels a side", w, h, MaxSize)
	}
	var p planes
	var err error
	switch m := img.(type) {
	case *image.YCbCr:
		p, err = e.fromYCbCr(m)
	case *image.RGBA:
		p, err = e.fromRGBA(m)
	case *image.Gray:
		p, err = fromGray(m)
	default:
		p, err = e.fromImage(img)
	}
	if err != nil {
		return dst, err
	}
	e.setQuality(quality)
	if cap(dst)-len(dst) < 1024 {
		// A guess at the output (a 260×331 photo at quality 90 is about 15 kB) saves regrowing.
		dst = append(make([]byte, 0, len(dst)+w*h/4+1024), dst...)
	}
	dst = e.appendHeaders(dst, w, h, p.gray)
	dst = e.appendScan(dst, p)
	return append(dst, 0xFF, 0xD9), nil // EOI
}

// planes is a 4:2:0 image as three byte planes: luma w×h, chroma ⌈w/2⌉×⌈h/2⌉; or, when gray
// is set, only luma.
type planes struct {
	gray      bool
	y, cb, cr []byte
	ys, cs    int // strides
	w, h      int
	cw, ch    int
}

// check reports whether the slices hold every sample the dimensions and strides claim,
// so that a malformed image is an error rather than a panic in the middle of a scan.
func (p planes) check() error {
	if p.ys < p.w || len(p.y) < (p.h-1)*p.ys+p.w {
		return errors.New("jpeg: image luma plane is shorter than its bounds and stride need")
	}
	if p.gray {
		return nil
	}
	if p.cs < p.cw ||
		len(p.cb) < (p.ch-1)*p.cs+p.cw || len(p.cr) < (p.ch-1)*p.cs+p.cw {
		return errors.New("jpeg: image chroma planes are shorter than its bounds and stride need")
	}
	return nil
}

func newPlanes(w, h int) planes {
	return planes{w: w, h: h, cw: (w + 1) / 2, ch: (h + 1) / 2}
}

// grow returns b resized to n bytes, reusing its array when it is large enough.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// fromYCbCr uses a 4:2:0 image with an even origin as it is. Otherwise the luma plane is still
// used as it is and each chroma sample becomes the mean of the source's chroma under the 2×2
// luma pixels it covers (which also realigns the chroma of an image with an odd origin).
func (e *Encoder) fromYCbCr(m *image.YCbCr) (planes, error) {
	r := m.Rect
	p := newPlanes(r.Dx(), r.Dy())
	if m.YStride < p.w || len(m.Y) < m.YOffset(r.Min.X, r.Min.Y)+(p.h-1)*m.YStride+p.w {
		return p, errors.New("jpeg: image luma plane is shorter than its bounds and stride need")
	}
	p.y, p.ys = m.Y[m.YOffset(r.Min.X, r.Min.Y):], m.YStride
	if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && r.Min.X%2 == 0 && r.Min.Y%2 == 0 {
		off := m.COffset(r.Min.X, r.Min.Y)
		p.cb, p.cr, p.cs = m.Cb[off:], m.Cr[off:], m.CStride
		return p, p.check()
	}
	// Check the chroma planes reach the last pixel before reading any of them by COffset.
	last := m.COffset(r.Max.X-1, r.Max.Y-1)
	if m.COffset(r.Min.X, r.Min.Y) < 0 || last >= len(m.Cb) || last >= len(m.Cr) ||
		(r.Dy() > 1 && m.CStride <= 0) {
		return p, errors.New("jpeg: image chroma planes are shorter than its bounds and stride need")
	}
	e.cb, e.cr = grow(e.cb, p.cw*p.ch), grow(e.cr, p.cw*p.ch)
	p.cb, p.cr, p.cs = e.cb, e.cr, p.cw
	for cy := 0; cy < p.ch; cy++ {
		y0 := r.Min.Y + 2*cy
		y1 := min(y0+1, r.Max.Y-1)
		for cx := 0; cx < p.cw; cx++ {
			x0 := r.Min.X + 2*cx
			x1 := min(x0+1, r.Max.X-1)
			i00, i01 := m.COffset(x0, y0), m.COffset(x1, y0)
			i10, i11 := m.COffset(x0, y1), m.COffset(x1, y1)
			p.cb[cy*p.cw+cx] = uint8((int(m.Cb[i00]) + int(m.Cb[i01]) + int(m.Cb[i10]) + int(m.Cb[i11]) + 2) >> 2)
			p.cr[cy*p.cw+cx] = uint8((int(m.Cr[i00]) + int(m.Cr[i01]) + int(m.Cr[i10]) + int(m.Cr[i11]) + 2) >> 2)
		}
	}
	return p, p.check()
}

// fromGray encodes a gray image as one component, as image/jpeg does: a third of the blocks.
func fromGray(m *image.Gray) (planes, error) {
	r := m.Rect
	p := newPlanes(r.Dx(), r.Dy())
	p.gray = true
	off := m.PixOffset(r.Min.X, r.Min.Y)
	if off < 0 || off > len(m.Pix) {
		return p, errors.New("jpeg: image luma plane is shorter than its bounds and stride need")
	}
	p.y, p.ys = m.Pix[off:], m.Stride
	return p, p.check()
}

// fromRGBA converts with the JFIF formulas in 16-bit fixed point (as image/color does): luma per
// pixel, chroma from the sum of each 2×2 block's RGB (the formulas are linear, so this is the
// mean of the four pixels' chroma, rounded once). The image's alpha is ignored, as JPEG has none.
func (e *Encoder) fromRGBA(m *image.RGBA) (planes, error) {
	r := m.Rect
	p := newPlanes(r.Dx(), r.Dy())
	base := m.PixOffset(r.Min.X, r.Min.Y)
	if m.Stride < 4*p.w || base < 0 || len(m.Pix) < base+(p.h-1)*m.Stride+4*p.w {
		return p, errors.New("jpeg: image pixels are shorter than its bounds and stride need")
	}
	e.y = grow(e.y, p.w*p.h)
	e.cb, e.cr = grow(e.cb, p.cw*p.ch), grow(e.cr, p.cw*p.ch)
	p.y, p.ys, p.cb, p.cr, p.cs = e.y, p.w, e.cb, e.cr, p.cw
	for y := 0; y < p.h; y++ {
		src := m.Pix[base+y*m.Stride : base+y*m.Stride+4*p.w]
		dst := p.y[y*p.w : (y+1)*p.w]
		for x := range dst {
			s := src[4*x : 4*x+3 : 4*x+3]
			dst[x] = uint8((19595*int32(s[0]) + 38470*int32(s[1]) + 7471*int32(s[2]) + 1<<15) >> 16)
		}
	}
	for cy := 0; cy < p.ch; cy++ {
		y0 := 2 * cy
		y1 := min(y0+1, p.h-1)
		row0 := m.Pix[base+y0*m.Stride : base+y0*m.Stride+4*p.w]
		row1 := m.Pix[base+y1*m.Stride : base+y1*m.Stride+4*p.w]
		for cx := 0; cx < p.cw; cx++ {
			i0 := 8 * cx
			i1 := min(i0+4, 4*p.w-4) // the last column stands in for a missing right neighbour
			sr := int32(row0[i0]) + int32(row0[i1]) + int32(row1[i0]) + int32(row1[i1])
			sg := int32(row0[i0+1]) + int32(row0[i1+1]) + int32(row1[i0+1]) + int32(row1[i1+1])
			sb := int32(row0[i0+2]) + int32(row0[i1+2]) + int32(row1[i0+2]) + int32(row1[i1+2])
			p.cb[cy*p.cw+cx] = clamp8((-11056*sr - 21712*sg + 32768*sb + 4*(257<<15)) >> 18)
			p.cr[cy*p.cw+cx] = clamp8((32768*sr - 27440*sg - 5328*sb + 4*(257<<15)) >> 18)
		}
	}
	return p, nil
}

func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}

// fromImage draws any other image into an RGBA copy (colour converted the way image/color
// does) and converts that.
func (e *Encoder) fromImage(img image.Image) (planes, error) {
	r := img.Bounds()
	if e.rgba == nil || e.rgba.Rect.Dx() != r.Dx() || e.rgba.Rect.Dy() != r.Dy() {
		e.rgba = image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	}
	draw.Draw(e.rgba, e.rgba.Rect, img, r.Min, draw.Src)
	return e.fromRGBA(e.rgba)
}

// Annex K.1 quantisation tables, in natural (row-major) order.
var baseQuant = [2][64]byte{{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}, {
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}}

// zigzag[k] is the natural index of the k-th coefficient in zigzag order (T.81 figure A.6).
var zigzag = makeZigzag()

func makeZigzag() [64]uint8 {
	var z [64]uint8
	k := 0
	for s := 0; s < 15; s++ { // anti-diagonals row+col = s, alternating direction
		for i := 0; i <= s; i++ {
			row := i
			if s%2 == 0 {
				row = s - i
			}
			col := s - row
			if row < 8 && col < 8 {
				z[k] = uint8(row*8 + col)
				k++
			}
		}
	}
	return z
}

// aanScale[k] is the AAN DCT's output scale for frequency k: cos(kπ/16)·√2, and 1 for k = 0.
var aanScale = func() [8]float64 {
	var s [8]float64
	s[0] = 1
	for k := 1; k < 8; k++ {
		s[k] = math.Cos(float64(k)*math.Pi/16) * math.Sqrt2
	}
	return s
}()

// setQuality scales the Annex K tables the IJG way (quality 50 is the tables as printed) and
// folds each entry with the DCT's output scale into one multiplier per coefficient.
func (e *Encoder) setQuality(quality int) {
	if e.quality == quality {
		return
	}
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	for t := range baseQuant {
		for k, zn := range zigzag {
			n := int(zn)
			q := min(max((int(baseQuant[t][n])*scale+50)/100, 1), 255) // 255: baseline tables are 8-bit
			e.qt[t][k] = byte(q)
			e.div[t][k] = float32(1 / (float64(q) * aanScale[n/8] * aanScale[n%8] * 8))
		}
	}
	e.quality = quality
}

// appendHeaders appends SOI, JFIF APP0, DQT, SOF0 (three components, luma 2×2, chroma 1×1; or
// luma alone) and DHT.
func (e *Encoder) appendHeaders(b []byte, w, h int, gray bool) []byte {
	b = append(b, 0xFF, 0xD8) // SOI
	b = append(b, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	specs := huffSpecs[:]
	if gray {
		b = append(b, 0xFF, 0xDB, 0, 2+65, 0)
		b = append(b, e.qt[0][:]...)
		b = append(b, 0xFF, 0xC0, 0, 11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)
		specs = specs[:2]
	} else {
		b = append(b, 0xFF, 0xDB, 0, 2+2*65, 0)
		b = append(b, e.qt[0][:]...)
		b = append(b, 1)
		b = append(b, e.qt[1][:]...)
		b = append(b, 0xFF, 0xC0, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
			1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	}
	n := 2
	for _, s := range specs {
		n += 1 + 16 + len(s.values)
	}
	b = append(b, 0xFF, 0xC4, byte(n>>8), byte(n))
	for _, s := range specs {
		b = append(b, s.class)
		b = append(b, s.counts[:]...)
		b = append(b, s.values...)
	}
	return b
}

// appendScan appends SOS and the entropy-coded data of every MCU: four luma blocks, then one Cb
// and one Cr. Blocks past the image's right or bottom edge repeat its last column or row.
func (e *Encoder) appendScan(b []byte, p planes) []byte {
	var dcY, dcCb, dcCr int32
	if p.gray { // one component: its own blocks in raster order, no MCU of four
		bw := bitWriter{buf: append(b, 0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0)}
		for by := 0; by < p.h; by += 8 {
			for bx := 0; bx < p.w; bx += 8 {
				e.block(&bw, p.y, p.ys, bx, by, p.w, p.h, 0, &dcY)
			}
		}
		return bw.finish()
	}
	bw := bitWriter{buf: append(b, 0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)}
	for my := 0; my < p.h; my += 16 {
		for mx := 0; mx < p.w; mx += 16 {
			for i := 0; i < 4; i++ {
				e.block(&bw, p.y, p.ys, mx+8*(i&1), my+8*(i>>1), p.w, p.h, 0, &dcY)
			}
			e.block(&bw, p.cb, p.cs, mx/2, my/2, p.cw, p.ch, 1, &dcCb)
			e.block(&bw, p.cr, p.cs, mx/2, my/2, p.cw, p.ch, 1, &dcCr)
		}
	}
	return bw.finish()
}

// block codes the 8×8 block at (x0, y0) of a w×h plane with table set t (0 luminance,
// 1 chrominance); dc is the component's previous DC term. Blocks that reach past the plane's
// right or bottom edge repeat its last column or row.
func (e *Encoder) block(bw *bitWriter, p []byte, stride, x0, y0, w, h, t int, dc *int32) {
	var nz uint64
	if x0+8 <= w && y0+8 <= h {
		nz = transform(&e.coef, &e.blk, p[y0*stride+x0:], stride, &e.div[t])
	} else {
		edgeBlock(&e.edge, p, stride, x0, y0, w, h)
		nz = transform(&e.coef, &e.blk, e.edge[:], 8, &e.div[t])
	}
	bw.block(&e.coef, nz, dc, &huffTables[t])
}

// edgeBlock copies the 8×8 block at (x0, y0) of a w×h plane into blk, repeating the last column
// and row for positions outside the plane.
func edgeBlock(blk *[64]byte, p []byte, stride, x0, y0, w, h int) {
	for r := 0; r < 8; r++ {
		row := p[min(y0+r, h-1)*stride:]
		for c := 0; c < 8; c++ {
			blk[8*r+c] = row[min(x0+c, w-1)]
		}
	}
}

// transform reads the 8×8 block at the start of src (rows stride bytes apart; samples 0..255,
// not level-shifted), transforms it with a floating-point AAN DCT (Arai, Agui and Nakajima; the
// scaling its outputs still need is folded into div), and stores the quantised coefficients in
// zigzag order in coef as little-endian int16s, using blk as scratch. It returns a mask with
// bit k set when coefficient k is not zero.
func transform(coef *[128]byte, blk *[64]float32, src []byte, stride int, div *[64]float32) uint64 {
	const (
		c4   = 0.707106781 // cos(4π/16)
		c6s  = 0.382683433 // cos(6π/16)
		c2c6 = 0.541196100 // cos(2π/16) − cos(6π/16)
		c2p6 = 1.306562965 // cos(2π/16) + cos(6π/16)
	)
	for i := 0; i < 64; i += 8 {
		s := src[:8:8]
		d := blk[i : i+8 : i+8]
		t0, t7 := float32(int32(s[0])+int32(s[7])), float32(int32(s[0])-int32(s[7]))
		t1, t6 := float32(int32(s[1])+int32(s[6])), float32(int32(s[1])-int32(s[6]))
		t2, t5 := float32(int32(s[2])+int32(s[5])), float32(int32(s[2])-int32(s[5]))
		t3, t4 := float32(int32(s[3])+int32(s[4])), float32(int32(s[3])-int32(s[4]))
		if i < 56 {
			src = src[stride:]
		}

		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		d[0], d[4] = t10+t11, t10-t11
		z1 := (t12 + t13) * c4
		d[2], d[6] = t13+z1, t13-z1

		t10, t11, t12 = t4+t5, t5+t6, t6+t7
		z5 := (t10 - t12) * c6s
		z2 := c2c6*t10 + z5
		z4 := c2p6*t12 + z5
		z3 := t11 * c4
		z11, z13 := t7+z3, t7-z3
		d[5], d[3] = z13+z2, z13-z2
		d[1], d[7] = z11+z4, z11-z4
	}
	for i := 0; i < 8; i++ {
		t0, t7 := blk[i]+blk[56+i], blk[i]-blk[56+i]
		t1, t6 := blk[8+i]+blk[48+i], blk[8+i]-blk[48+i]
		t2, t5 := blk[16+i]+blk[40+i], blk[16+i]-blk[40+i]
		t3, t4 := blk[24+i]+blk[32+i], blk[24+i]-blk[32+i]

		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		blk[i], blk[32+i] = t10+t11, t10-t11
		z1 := (t12 + t13) * c4
		blk[16+i], blk[48+i] = t13+z1, t13-z1

		t10, t11, t12 = t4+t5, t5+t6, t6+t7
		z5 := (t10 - t12) * c6s
		z2 := c2c6*t10 + z5
		z4 := c2p6*t12 + z5
		z3 := t11 * c4
		z11, z13 := t7+z3, t7-z3
		blk[40+i], blk[24+i] = z13+z2, z13-z2
		blk[8+i], blk[56+i] = z11+z4, z11-z4
	}
	// The level shift (−128 per sample) only moves the DC term, by 128·64 in the DCT's scale.
	blk[0] -= 128 * 64
	// Unrolled with constant indices (no table loads, bounds checks or variable shifts): four
	// coefficients at a time, zigzag order, packed as int16 lanes of a word that is stored at once
	// and turned into four bits of the non-zero mask while still in a register. Coefficient k is
	// blk[n] with n its natural index.
	var nz uint64
	x0 := lane(blk[0], div[0]) | lane(blk[1], div[1])<<16 | lane(blk[8], div[2])<<32 | lane(blk[16], div[3])<<48
	binary.LittleEndian.PutUint64(coef[0:], x0)
	nz |= nonZero4(x0) << 0
	x1 := lane(blk[9], div[4]) | lane(blk[2], div[5])<<16 | lane(blk[3], div[6])<<32 | lane(blk[10], div[7])<<48
	binary.LittleEndian.PutUint64(coef[8:], x1)
	nz |= nonZero4(x1) << 4
	x2 := lane(blk[17], div[8]) | lane(blk[24], div[9])<<16 | lane(blk[32], div[10])<<32 | lane(blk[25], div[11])<<48
	binary.LittleEndian.PutUint64(coef[16:], x2)
	nz |= nonZero4(x2) << 8
	x3 := lane(blk[18], div[12]) | lane(blk[11], div[13])<<16 | lane(blk[4], div[14])<<32 | lane(blk[5], div[15])<<48
	binary.LittleEndian.PutUint64(coef[24:], x3)
	nz |= nonZero4(x3) << 12
	x4 := lane(blk[12], div[16]) | lane(blk[19], div[17])<<16 | lane(blk[26], div[18])<<32 | lane(blk[33], div[19])<<48
	binary.LittleEndian.PutUint64(coef[32:], x4)
	nz |= nonZero4(x4) << 16
	x5 := lane(blk[40], div[20]) | lane(blk[48], div[21])<<16 | lane(blk[41], div[22])<<32 | lane(blk[34], div[23])<<48
	binary.LittleEndian.PutUint64(coef[40:], x5)
	nz |= nonZero4(x5) << 20
	x6 := lane(blk[27], div[24]) | lane(blk[20], div[25])<<16 | lane(blk[13], div[26])<<32 | lane(blk[6], div[27])<<48
	binary.LittleEndian.PutUint64(coef[48:], x6)
	nz |= nonZero4(x6) << 24
	x7 := lane(blk[7], div[28]) | lane(blk[14], div[29])<<16 | lane(blk[21], div[30])<<32 | lane(blk[28], div[31])<<48
	binary.LittleEndian.PutUint64(coef[56:], x7)
	nz |= nonZero4(x7) << 28
	x8 := lane(blk[35], div[32]) | lane(blk[42], div[33])<<16 | lane(blk[49], div[34])<<32 | lane(blk[56], div[35])<<48
	binary.LittleEndian.PutUint64(coef[64:], x8)
	nz |= nonZero4(x8) << 32
	x9 := lane(blk[57], div[36]) | lane(blk[50], div[37])<<16 | lane(blk[43], div[38])<<32 | lane(blk[36], div[39])<<48
	binary.LittleEndian.PutUint64(coef[72:], x9)
	nz |= nonZero4(x9) << 36
	x10 := lane(blk[29], div[40]) | lane(blk[22], div[41])<<16 | lane(blk[15], div[42])<<32 | lane(blk[23], div[43])<<48
	binary.LittleEndian.PutUint64(coef[80:], x10)
	nz |= nonZero4(x10) << 40
	x11 := lane(blk[30], div[44]) | lane(blk[37], div[45])<<16 | lane(blk[44], div[46])<<32 | lane(blk[51], div[47])<<48
	binary.LittleEndian.PutUint64(coef[88:], x11)
	nz |= nonZero4(x11) << 44
	x12 := lane(blk[58], div[48]) | lane(blk[59], div[49])<<16 | lane(blk[52], div[50])<<32 | lane(blk[45], div[51])<<48
	binary.LittleEndian.PutUint64(coef[96:], x12)
	nz |= nonZero4(x12) << 48
	x13 := lane(blk[38], div[52]) | lane(blk[31], div[53])<<16 | lane(blk[39], div[54])<<32 | lane(blk[46], div[55])<<48
	binary.LittleEndian.PutUint64(coef[104:], x13)
	nz |= nonZero4(x13) << 52
	x14 := lane(blk[53], div[56]) | lane(blk[60], div[57])<<16 | lane(blk[61], div[58])<<32 | lane(blk[54], div[59])<<48
	binary.LittleEndian.PutUint64(coef[112:], x14)
	nz |= nonZero4(x14) << 56
	x15 := lane(blk[47], div[60]) | lane(blk[55], div[61])<<16 | lane(blk[62], div[62])<<32 | lane(blk[63], div[63])<<48
	binary.LittleEndian.PutUint64(coef[120:], x15)
	nz |= nonZero4(x15) << 60
	return nz
}

// lane divides a DCT output by its folded divisor (x·d), rounds it to the nearest integer
// (adding 16384.5 makes the value positive, so truncation rounds it, halves up) and
// returns it as an int16 in the low 16 bits.
func lane(x, d float32) uint64 {
	return uint64(uint16(int32(x*d+16384.5) - 16384))
}

// nonZero4 returns a bit per int16 lane of x, set when the lane is not zero. In each lane,
// adding 0x7FFF to the low 15 bits carries into the top bit unless they are all zero, and OR-ing
// the lane itself adds its sign; the multiply gathers the four top bits (at bits 0, 16, 32 and 48
// once shifted down) into bits 48..51, where no other product term lands.
func nonZero4(x uint64) uint64 {
	t := ((x & 0x7FFF7FFF7FFF7FFF) + 0x7FFF7FFF7FFF7FFF | x) >> 15 & 0x0001000100010001
	return t * (1<<48 | 1<<33 | 1<<18 | 1<<3) >> 48
}

// A code is a symbol's Huffman code, right-aligned and shifted left by the number of magnitude
// bits that follow it (the symbol's low four bits), and n, the length of code and magnitude
// together: the magnitude is OR-ed in and the whole written at once.
type code struct {
	bits uint32
	n    uint32
}

// A huffTable has each symbol's code: dc for the 12 DC size categories, ac for the
// (run << 4 | size) symbols.
type huffTable struct {
	dc [12]code
	ac [256]code
}

// A huffSpec is a table as DHT carries it: how many codes of each length 1..16, and the symbols
// in code order.
type huffSpec struct {
	class  byte // table class << 4 | destination
	counts [16]byte
	values []byte
}

// huffSpecs are the Annex K.3 tables: luminance DC and AC, chrominance DC and AC.
var huffSpecs = [4]huffSpec{{
	class:  0x00,
	counts: [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1},
	values: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
}, {
	class:  0x10,
	counts: [16]byte{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d},
	values: []byte{
		0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
		0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
		0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
		0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
		0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
		0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
		0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
		0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	},
}, {
	class:  0x01,
	counts: [16]byte{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	values: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
}, {
	class:  0x11,
	counts: [16]byte{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77},
	values: []byte{
		0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
		0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
		0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
		0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
		0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
		0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
		0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
		0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
		0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
		0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	},
}}

// huffTables are huffSpecs as code tables: luminance, chrominance.
var huffTables = [2]huffTable{
	{dc: codes[[12]code](huffSpecs[0]), ac: codes[[256]code](huffSpecs[1])},
	{dc: codes[[12]code](huffSpecs[2]), ac: codes[[256]code](huffSpecs[3])},
}

// codes assigns canonical codes (T.81 annex C): within a length, consecutive values in symbol
// order; going one bit longer, the next code shifted left.
func codes[T [12]code | [256]code](s huffSpec) T {
	var t T
	next, k := uint32(0), 0
	for n, count := range s.counts {
		for range count {
			size := uint32(s.values[k] & 0x0F)
			t[s.values[k]] = code{bits: next << size, n: uint32(n+1) + size}
			next++
			k++
		}
		next <<= 1
	}
	return t
}

// A bitWriter packs codes into bytes, most significant bit first, and stuffs a zero byte after
// every 0xFF in the entropy-coded data.
type bitWriter struct {
	buf   []byte
	acc   uint64 // the last nbits bits written, right-aligned; bits above them are stale
	nbits uint32 // below 32 between calls
}

// write32 writes 32 bits of entropy-coded data.
func (w *bitWriter) write32(v uint32) {
	if x := ^v; (x-0x01010101)&^x&0x80808080 == 0 { // no 0xFF byte
		w.buf = binary.BigEndian.AppendUint32(w.buf, v)
		return
	}
	for s := 24; s >= 0; s -= 8 {
		c := byte(v >> s)
		w.buf = append(w.buf, c)
		if c == 0xFF {
			w.buf = append(w.buf, 0)
		}
	}
}

// finish pads the last byte with one bits (T.81 F.1.2.3) and returns the buffer.
func (w *bitWriter) finish() []byte {
	if pad := (8 - w.nbits%8) % 8; pad > 0 {
		w.acc = w.acc<<pad | (1<<pad - 1)
		w.nbits += pad
	}
	for w.nbits > 0 {
		w.nbits -= 8
		c := byte(w.acc >> w.nbits)
		w.buf = append(w.buf, c)
		if c == 0xFF {
			w.buf = append(w.buf, 0)
		}
	}
	return w.buf
}

// block writes one block's coefficients (zigzag order, nz their non-zero mask): the DC term as a
// difference from the component's previous DC, then run-length/size symbols for the AC terms.
//
// The bit state is kept in locals so that it stays in registers; every write of at most 32
// bits is followed by writing out a full 32 (nbits stays below 32 between writes).
func (w *bitWriter) block(coef *[128]byte, nz uint64, prevDC *int32, t *huffTable) {
	acc, nbits := w.acc, w.nbits
	dc := int32(int16(binary.LittleEndian.Uint16(coef[0:])))
	diff := dc - *prevDC
	*prevDC = dc
	size, mag := category(diff)
	c := t.dc[size%12]
	acc, nbits = acc<<c.n|uint64(c.bits|mag), nbits+c.n
	if nbits >= 32 {
		nbits -= 32
		w.write32(uint32(acc >> nbits))
	}
	last := 0
	for nz &^= 1; nz != 0; nz &= nz - 1 {
		k := bits.TrailingZeros64(nz)
		run := k - last - 1
		for ; run >= 16; run -= 16 { // ZRL: sixteen zeros
			zrl := t.ac[0xF0]
			acc, nbits = acc<<zrl.n|uint64(zrl.bits), nbits+zrl.n
			if nbits >= 32 {
				nbits -= 32
				w.write32(uint32(acc >> nbits))
			}
		}
		size, mag := category(int32(int16(binary.LittleEndian.Uint16(coef[2*(k&63):]))))
		c := t.ac[(uint32(run)<<4|size)&0xFF]
		acc, nbits = acc<<c.n|uint64(c.bits|mag), nbits+c.n
		if nbits >= 32 {
			nbits -= 32
			w.write32(uint32(acc >> nbits))
		}
		last = k
	}
	if last != 63 { // EOB
		eob := t.ac[0x00]
		acc, nbits = acc<<eob.n|uint64(eob.bits), nbits+eob.n
		if nbits >= 32 {
			nbits -= 32
			w.write32(uint32(acc >> nbits))
		}
	}
	w.acc, w.nbits = acc, nbits
}

// category returns v's size category (its magnitude's bit length) and the bits that follow the
// Huffman code: v itself when positive, v−1 (ones' complement) when negative, in size bits.
func category(v int32) (size, mag uint32) {
	m := v >> 31
	size = uint32(bits.Len32(uint32((v ^ m) - m)))
	mag = uint32(v+m) & (1<<size - 1)
	return size, mag
}
