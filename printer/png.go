package printer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math/bits"
)

// EncodePNG writes an opaque face as an 8-bit RGB PNG that records its 300 dpi in a pHYs chunk,
// so a viewer or printer that honours it reproduces the card at its true size. Alpha is dropped.
//
// It is several times faster than image/png (which also drops the resolution), because it does
// only what a card face needs: each row is Sub-filtered, which turns flat areas into runs of
// zeros, and the runs are deflated as back-references of distance 1 under the fixed Huffman code
// (rleDeflate). No match search, no histograms: a face encodes in about as long as it takes to
// read it, to a few hundred kilobytes (photos and anti-aliased text stay literal).
func EncodePNG(w io.Writer, img *image.RGBA) error {
	b := img.Bounds()
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("\x89PNG\r\n\x1a\n"); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	var hdr [13]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(b.Dx()))
	binary.BigEndian.PutUint32(hdr[4:], uint32(b.Dy()))
	hdr[8], hdr[9] = 8, 2 // 8 bits per sample, truecolour
	if err := writeChunk(bw, "IHDR", hdr[:]); err != nil {
		return err
	}
	var phys [9]byte
	ppm := uint32((DPI*10000 + 127) / 254) // pixels per metre: 11811 at 300 dpi
	binary.BigEndian.PutUint32(phys[0:], ppm)
	binary.BigEndian.PutUint32(phys[4:], ppm)
	phys[8] = 1 // unit: metre
	if err := writeChunk(bw, "pHYs", phys[:]); err != nil {
		return err
	}

	rowLen := 1 + 3*b.Dx()
	raw := make([]byte, rowLen*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		row := raw[y*rowLen : (y+1)*rowLen]
		row[0] = 1 // filter: Sub
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		src = src[:4*b.Dx()]
		var pr, pg, pb byte
		for x := 0; x < b.Dx(); x++ {
			p, q := src[4*x:4*x+3], row[1+3*x:4+3*x]
			r, g, bl := p[0], p[1], p[2]
			q[0], q[1], q[2] = r-pr, g-pg, bl-pb
			pr, pg, pb = r, g, bl
		}
	}
	z := make([]byte, 0, len(raw)/4)
	z = append(z, 0x78, 0x01) // zlib: deflate, 32 KiB window, no dictionary, fastest
	z = rleDeflate(z, raw)
	z = binary.BigEndian.AppendUint32(z, adler32.Checksum(raw))
	if err := writeChunk(bw, "IDAT", z); err != nil {
		return err
	}
	if err := writeChunk(bw, "IEND", nil); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	return nil
}

// rleDeflate appends to dst one final deflate block (RFC 1951) with the fixed Huffman code that
// holds src: each run of four or more equal bytes becomes the byte and a back-reference of
// distance 1, every other byte a literal.
func rleDeflate(dst, src []byte) []byte {
	bw := bitWriter{out: dst}
	bw.put(1, 1) // BFINAL
	bw.put(1, 2) // BTYPE 01: fixed Huffman codes
	for i := 0; i < len(src); {
		c := src[i]
		j := i + 1
		for j < len(src) && src[j] == c && j-i <= 258 {
			j++
		}
		bw.literal(c)
		run := j - i - 1 // bytes after the first that repeat it
		for run >= 3 {
			n := min(run, 258)
			if rest := run - n; rest > 0 && rest < 3 {
				n -= 3 - rest // leave a tail long enough for another match
			}
			bw.match(n)
			run -= n
		}
		for ; run > 0; run-- {
			bw.literal(c)
		}
		i = j
	}
	bw.code(0, 7) // end of block: symbol 256
	return bw.flush()
}

// bitWriter packs deflate's LSB-first bit stream.
type bitWriter struct {
	out   []byte
	bits  uint64
	nbits uint
}

func (w *bitWriter) put(v uint64, n uint) {
	w.bits |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.nbits -= 8
	}
}

// code writes a Huffman code of n bits, which deflate stores most significant bit first.
func (w *bitWriter) code(c uint32, n uint) {
	w.put(uint64(bits.Reverse32(c)>>(32-n)), n)
}

// literal writes a byte under the fixed code: 0–143 as 8 bits from 0x30, 144–255 as 9 bits
// from 0x190.
func (w *bitWriter) literal(b byte) {
	if b < 144 {
		w.code(0x30+uint32(b), 8)
	} else {
		w.code(0x190+uint32(b)-144, 9)
	}
}

// match writes a back-reference of length n (3–258) at distance 1.
func (w *bitWriter) match(n int) {
	sym, extra, nextra := lengthCode(n)
	if sym < 280 {
		w.code(uint32(sym-256), 7)
	} else {
		w.code(0xc0+uint32(sym-280), 8)
	}
	if nextra > 0 {
		w.put(uint64(extra), nextra)
	}
	w.code(0, 5) // distance code 0: distance 1, no extra bits
}

// lengthCode maps a match length to its deflate symbol and extra bits (RFC 1951, 3.2.5).
func lengthCode(n int) (sym, extra int, nextra uint) {
	switch {
	case n == 258:
		return 285, 0, 0
	case n <= 10:
		return 254 + n, 0, 0
	}
	// Lengths 11–257 come in groups of four codes per extra-bit count.
	base, s := 11, 265
	for nb := uint(1); nb <= 5; nb++ {
		span := 4 << nb
		if n < base+span {
			k := (n - base) >> nb
			return s + k, (n - base) & (1<<nb - 1), nb
		}
		base += span
		s += 4
	}
	panic("unreachable: match length out of range")
}

func (w *bitWriter) flush() []byte {
	if w.nbits > 0 {
		w.out = append(w.out, byte(w.bits))
	}
	w.bits, w.nbits = 0, 0
	return w.out
}

func writeChunk(w io.Writer, typ string, data []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	for _, p := range [][]byte{n[:], []byte(typ), data, sum[:]} {
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("encode PNG: write %s chunk: %w", typ, err)
		}
	}
	return nil
}

// DecodePhoto decodes a stored photo (JPEG or PNG bytes, as the card store keeps them) for
// Face.Photo.
func DecodePhoto(data []byte) (image.Image, error) {
	var img image.Image
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8")):
		img, err = jpeg.Decode(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(data))
	default:
		return nil, fmt.Errorf("decode photo: neither JPEG nor PNG")
	}
	if err != nil {
		return nil, fmt.Errorf("decode photo: %w", err)
	}
	return img, nil
}
