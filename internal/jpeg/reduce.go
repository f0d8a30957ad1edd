package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
)

// ErrUnsupported is returned by DecodeReduced for a JPEG it does not read (progressive,
// arithmetic-coded, 12-bit, CMYK or Adobe RGB, several scans, unusual sampling): decode those
// in full with image/jpeg.
var ErrUnsupported = errors.New("jpeg: not a baseline single-scan YCbCr or gray JPEG")

// DecodeReduced decodes a baseline JPEG at an eighth of its size: each 8 × 8 block becomes one
// pixel, its DC coefficient, which is the block's mean (T.81 A.3.3). That is the box-filtered
// image a full decode followed by an 8 × 8 area mean would give (up to rounding), without the
// inverse DCTs, which are most of a full decode's time. Every entropy-coded bit is still read,
// so a corrupt stream is an error as in a full decode. The result is an *image.YCbCr (4:4:4,
// 4:2:2, 4:2:0 or 4:4:0) or an *image.Gray of ⌈w/8⌉ × ⌈h/8⌉ pixels.
func DecodeReduced(data []byte) (image.Image, error) {
	var d reducer
	return d.decode(data)
}

type decTable struct {
	lut     [1 << lutBits]uint16 // code length << 8 | value, for codes of at most lutBits bits; 0 if longer
	maxcode [17]int32            // the largest code of each length, -1 for none
	valptr  [17]int32            // index in vals of the first code of each length
	mincode [17]int32
	vals    []byte
	defined bool
}

const lutBits = 9

type component struct {
	id, h, v, tq    int
	td, ta          int // Huffman tables of the scan
	pred            int32
	plane           []byte
	stride, pw, ph  int // plane size in reduced pixels
	blocksX, blocks int
}

type reducer struct {
	data    []byte
	pos     int
	acc     uint64
	n       uint
	padded  int // zero bytes fed past the data or a marker
	qt      [4][64]uint16
	qdef    [4]bool
	dc, ac  [4]decTable
	comps   []component
	w, h    int
	hmax    int
	vmax    int
	restart int
	adobe   bool
}

func (d *reducer) decode(data []byte) (image.Image, error) {
	d.data = data
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, errors.New("jpeg: missing SOI marker")
	}
	d.pos = 2
	for {
		marker, seg, err := d.segment()
		if err != nil {
			return nil, err
		}
		switch {
		case marker == 0xDB:
			if err := d.readDQT(seg); err != nil {
				return nil, err
			}
		case marker == 0xC4:
			if err := d.readDHT(seg); err != nil {
				return nil, err
			}
		case marker == 0xC0 || marker == 0xC1:
			if d.comps != nil {
				return nil, errors.New("jpeg: two frame headers")
			}
			if err := d.readSOF(seg); err != nil {
				return nil, err
			}
		case marker >= 0xC2 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			return nil, ErrUnsupported // progressive, lossless, arithmetic or hierarchical
		case marker == 0xDD:
			if len(seg) != 2 {
				return nil, errors.New("jpeg: bad DRI length")
			}
			d.restart = int(binary.BigEndian.Uint16(seg))
		case marker == 0xEE:
			if len(seg) >= 5 && string(seg[:5]) == "Adobe" {
				d.adobe = true // its transform flag may mean RGB: leave it to image/jpeg
			}
		case marker == 0xDA:
			return d.scan(seg)
		case marker == 0xD9:
			return nil, errors.New("jpeg: no scan before EOI")
		}
	}
}

// segment reads the next marker and its payload (without the length).
func (d *reducer) segment() (byte, []byte, error) {
	if d.pos < len(d.data) && d.data[d.pos] != 0xFF {
		return 0, nil, errors.New("jpeg: expected a marker")
	}
	for d.pos < len(d.data) && d.data[d.pos] == 0xFF { // fill bytes
		d.pos++
	}
	if d.pos >= len(d.data) {
		return 0, nil, errors.New("jpeg: unexpected end before a scan")
	}
	m := d.data[d.pos]
	d.pos++
	if m == 0xD8 || m == 0xD9 || (m >= 0xD0 && m <= 0xD7) || m == 0x01 {
		return m, nil, nil
	}
	if d.pos+2 > len(d.data) {
		return 0, nil, errors.New("jpeg: truncated segment")
	}
	n := int(binary.BigEndian.Uint16(d.data[d.pos:]))
	if n < 2 || d.pos+n > len(d.data) {
		return 0, nil, fmt.Errorf("jpeg: segment %02X of bad length %d", m, n)
	}
	seg := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return m, seg, nil
}

func (d *reducer) readDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, int(seg[0]&15)
		if tq > 3 || pq > 1 {
			return errors.New("jpeg: bad DQT")
		}
		size := 64 << pq
		if len(seg) < 1+size {
			return errors.New("jpeg: truncated DQT")
		}
		for i := range 64 {
			if pq == 0 {
				d.qt[tq][i] = uint16(seg[1+i])
			} else {
				d.qt[tq][i] = binary.BigEndian.Uint16(seg[1+2*i:])
			}
		}
		d.qdef[tq] = true
		seg = seg[1+size:]
	}
	return nil
}

func (d *reducer) readDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return errors.New("jpeg: truncated DHT")
		}
		tc, th := seg[0]>>4, int(seg[0]&15)
		if tc > 1 || th > 3 {
			return errors.New("jpeg: bad DHT")
		}
		total := 0
		for _, c := range seg[1:17] {
			total += int(c)
		}
		if total > 256 || len(seg) < 17+total {
			return errors.New("jpeg: bad DHT")
		}
		t := &d.dc[th]
		if tc == 1 {
			t = &d.ac[th]
		}
		if err := t.build(seg[1:17], seg[17:17+total]); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

// build makes the canonical code of T.81 Annex C from the counts of each length and the values.
func (t *decTable) build(counts, vals []byte) error {
	*t = decTable{vals: append([]byte(nil), vals...), defined: true}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		if code+n > 1<<l {
			return errors.New("jpeg: bad Huffman table")
		}
		t.valptr[l], t.mincode[l] = k, code
		if n == 0 {
			t.maxcode[l] = -1
		} else {
			t.maxcode[l] = code + n - 1
			if l <= lutBits {
				for i := range n {
					c := code + i
					shift := lutBits - l
					for j := range int32(1) << shift {
						t.lut[c<<shift|j] = uint16(l)<<8 | uint16(vals[k+i])
					}
				}
			}
		}
		code += n
		k += n
		code <<= 1
	}
	return nil
}

func (d *reducer) readSOF(seg []byte) error {
	if len(seg) < 6 || seg[0] != 8 {
		return ErrUnsupported // 12-bit
	}
	d.h, d.w = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
	nc := int(seg[5])
	if d.w == 0 || d.h == 0 {
		return errors.New("jpeg: image has no size")
	}
	if nc != 1 && nc != 3 {
		return ErrUnsupported
	}
	if len(seg) != 6+3*nc {
		return errors.New("jpeg: bad SOF length")
	}
	for i := range nc {
		c := seg[6+3*i:]
		comp := component{id: int(c[0]), h: int(c[1] >> 4), v: int(c[1] & 15), tq: int(c[2])}
		if comp.h < 1 || comp.h > 4 || comp.v < 1 || comp.v > 4 || comp.tq > 3 {
			return errors.New("jpeg: bad component in SOF")
		}
		d.hmax, d.vmax = max(d.hmax, comp.h), max(d.vmax, comp.v)
		d.comps = append(d.comps, comp)
	}
	if nc == 1 {
		d.comps[0].h, d.comps[0].v, d.hmax, d.vmax = 1, 1, 1, 1 // one component: never interleaved
	}
	if nc == 3 && d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B' {
		return ErrUnsupported // RGB, not YCbCr
	}
	if nc == 3 && (d.comps[1].h != 1 || d.comps[1].v != 1 || d.comps[2].h != 1 || d.comps[2].v != 1 ||
		d.comps[0].h > 2 || d.comps[0].v > 2) {
		return ErrUnsupported
	}
	return nil
}

func (d *reducer) scan(seg []byte) (image.Image, error) {
	if d.comps == nil {
		return nil, errors.New("jpeg: scan before the frame header")
	}
	if d.adobe {
		return nil, ErrUnsupported
	}
	if len(seg) < 1 || int(seg[0]) != len(d.comps) || len(seg) != 4+2*len(d.comps) {
		return nil, ErrUnsupported // a scan of some components: several scans
	}
	for i := range d.comps {
		c := &d.comps[i]
		if int(seg[1+2*i]) != c.id {
			return nil, ErrUnsupported
		}
		c.td, c.ta = int(seg[2+2*i]>>4), int(seg[2+2*i]&15)
		if c.td > 3 || c.ta > 3 || !d.dc[c.td].defined || !d.ac[c.ta].defined || !d.qdef[c.tq] {
			return nil, errors.New("jpeg: scan names a table not defined")
		}
	}
	if ss, se, a := seg[len(seg)-3], seg[len(seg)-2], seg[len(seg)-1]; ss != 0 || se != 63 || a != 0 {
		return nil, ErrUnsupported
	}
	rw, rh := (d.w+7)/8, (d.h+7)/8
	var img image.Image
	if len(d.comps) == 1 {
		g := image.NewGray(image.Rect(0, 0, rw, rh))
		d.comps[0].plane, d.comps[0].stride, d.comps[0].pw, d.comps[0].ph = g.Pix, g.Stride, rw, rh
		img = g
	} else {
		ratio := map[[2]int]image.YCbCrSubsampleRatio{{1, 1}: image.YCbCrSubsampleRatio444, {2, 1}: image.YCbCrSubsampleRatio422,
			{2, 2}: image.YCbCrSubsampleRatio420, {1, 2}: image.YCbCrSubsampleRatio440}[[2]int{d.comps[0].h, d.comps[0].v}]
		y := image.NewYCbCr(image.Rect(0, 0, rw, rh), ratio)
		cw, ch := (rw+d.hmax-1)/d.hmax, (rh+d.vmax-1)/d.vmax
		d.comps[0].plane, d.comps[0].stride, d.comps[0].pw, d.comps[0].ph = y.Y, y.YStride, rw, rh
		d.comps[1].plane, d.comps[1].stride, d.comps[1].pw, d.comps[1].ph = y.Cb, y.CStride, cw, ch
		d.comps[2].plane, d.comps[2].stride, d.comps[2].pw, d.comps[2].ph = y.Cr, y.CStride, cw, ch
		img = y
	}
	mcux, mcuy := (d.w+8*d.hmax-1)/(8*d.hmax), (d.h+8*d.vmax-1)/(8*d.vmax)
	for mcu := 0; mcu < mcux*mcuy; mcu++ {
		if d.restart > 0 && mcu > 0 && mcu%d.restart == 0 {
			if err := d.nextRestart(); err != nil {
				return nil, err
			}
		}
		mx, my := mcu%mcux, mcu/mcux
		for i := range d.comps {
			c := &d.comps[i]
			for by := range c.v {
				for bx := range c.h {
					dc, err := d.block(c)
					if err != nil {
						return nil, err
					}
					x, y := mx*c.h+bx, my*c.v+by
					if x < c.pw && y < c.ph {
						c.plane[y*c.stride+x] = dc
					}
				}
			}
		}
		if d.padded > 8 {
			return nil, errors.New("jpeg: scan data ends early")
		}
	}
	return img, nil
}

// block decodes one block's coefficients and returns its mean: the DC level shifted back.
func (d *reducer) block(c *component) (byte, error) {
	s, err := d.huff(&d.dc[c.td])
	if err != nil {
		return 0, err
	}
	if s > 11 {
		return 0, errors.New("jpeg: bad DC difference size")
	}
	c.pred += d.receive(uint(s))
	for k := 1; k < 64; {
		rs, err := d.huff(&d.ac[c.ta])
		if err != nil {
			return 0, err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += r + 1
		if k > 64 {
			return 0, errors.New("jpeg: AC coefficients past the block")
		}
		d.skip(s)
	}
	// The DC coefficient is 8 × the block's mean (T.81 A.3.3): mean = dc × q / 8, level-shifted.
	v := (int64(c.pred)*int64(d.qt[c.tq][0])+4)>>3 + 128
	return byte(min(max(v, 0), 255)), nil
}

// fill tops the bit buffer up to at least 57 bits, unstuffing 0xFF00 and stopping at a marker
// (after which, and past the data, it feeds zeros, counted in padded).
func (d *reducer) fill() {
	for d.n <= 56 {
		var b byte
		if d.pos < len(d.data) && (d.data[d.pos] != 0xFF || (d.pos+1 < len(d.data) && d.data[d.pos+1] == 0)) {
			b = d.data[d.pos]
			d.pos++
			if b == 0xFF {
				d.pos++ // the stuffed zero
			}
		} else {
			d.padded++
		}
		d.acc |= uint64(b) << (56 - d.n)
		d.n += 8
	}
}

func (d *reducer) huff(t *decTable) (byte, error) {
	if d.n < 16 {
		d.fill()
	}
	if e := t.lut[d.acc>>(64-lutBits)]; e != 0 {
		l := uint(e >> 8)
		d.acc <<= l
		d.n -= l
		return byte(e), nil
	}
	for l := lutBits + 1; l <= 16; l++ {
		code := int32(d.acc >> (64 - uint(l)))
		if code <= t.maxcode[l] {
			d.acc <<= uint(l)
			d.n -= uint(l)
			i := t.valptr[l] + code - t.mincode[l]
			if i < 0 || int(i) >= len(t.vals) {
				break
			}
			return t.vals[i], nil
		}
	}
	return 0, errors.New("jpeg: bad Huffman code")
}

// receive reads s bits and extends them to the signed value they code (T.81 F.2.2.1).
func (d *reducer) receive(s uint) int32 {
	if s == 0 {
		return 0
	}
	if d.n < s {
		d.fill()
	}
	v := int32(d.acc >> (64 - s))
	d.acc <<= s
	d.n -= s
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

func (d *reducer) skip(s uint) {
	if d.n < s {
		d.fill()
	}
	d.acc <<= s
	d.n -= s
}

// nextRestart drops the bits left of the interval, reads its RSTn marker and resets the
// predictors (T.81 F.2.1.3).
func (d *reducer) nextRestart() error {
	d.acc, d.n, d.padded = 0, 0, 0
	if d.pos+1 >= len(d.data) || d.data[d.pos] != 0xFF || d.data[d.pos+1] < 0xD0 || d.data[d.pos+1] > 0xD7 {
		return errors.New("jpeg: missing restart marker")
	}
	d.pos += 2
	for i := range d.comps {
		d.comps[i].pred = 0
	}
	return nil
}
