package printer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
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

	z := make([]byte, 0, 3*b.Dx()*b.Dy()/4)
	z = append(z, 0x78, 0x01) // zlib: deflate, 32 KiB window, no dictionary, fastest
	z = deflateRows(z, img)
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

// deflateRows appends to dst the zlib body for img's pixels as PNG rows (filter byte 1, Sub,
// then the RGB differences from the pixel to the left) followed by the Adler-32 checksum. The
// rows go into one final deflate block (RFC 1951) with the fixed Huffman code: each run of four
// or more equal bytes becomes the byte and back-references of distance 1, every other byte a
// literal. Filtering, coding and checksum are done row by row, so the row stays in cache.
func deflateRows(dst []byte, img *image.RGBA) []byte {
	var lit [256]struct {
		code uint32
		n    uint8
	}
	for c := range 256 { // the fixed literal code: 0–143 in 8 bits from 0x30, 144–255 in 9 from 0x190
		if c < 144 {
			lit[c].code, lit[c].n = bits.Reverse32(0x30+uint32(c))>>24, 8
		} else {
			lit[c].code, lit[c].n = bits.Reverse32(0x190+uint32(c-144))>>23, 9
		}
	}
	w := bitWriter{out: dst}
	w.put(1, 1) // BFINAL
	w.put(1, 2) // BTYPE 01: fixed Huffman codes
	b := img.Bounds()
	// The row buffer has one spare byte: each pixel is stored as 4 bytes, the next pixel
	// overwriting the fourth.
	buf := make([]byte, 1+3*b.Dx()+1)
	buf[0] = 1
	row := buf[:len(buf)-1]
	var s1, s2 uint64 = 1, 0 // Adler-32 so far
	var r1, r2 uint64        // the current row's own Adler sums, for a repeat of it
	rowLen := len(row)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		src := img.Pix[img.PixOffset(b.Min.X, y) : img.PixOffset(b.Min.X, y)+4*b.Dx()]
		if y > b.Min.Y && rowLen <= 32768 && bytes.Equal(src, img.Pix[img.PixOffset(b.Min.X, y-1):img.PixOffset(b.Min.X, y-1)+4*b.Dx()]) {
			// The same pixels as the row above give the same filtered row: copy it from one row
			// back (a few bytes for the whole row), and add its checksum without reading it.
			for left := rowLen; left > 0; {
				m := min(left, 258)
				if rest := left - m; rest > 0 && rest < 3 {
					m -= 3 - rest
				}
				w.copyBack(m, rowLen)
				left -= m
			}
			s2 = (s2 + uint64(rowLen)*s1 + r2) % 65521
			s1 = (s1 + r1) % 65521
			continue
		}
		// Sub filter, four bytes at a time: a byte-wise subtraction without borrows between
		// bytes (the high bit of each byte is set aside, then put right).
		const hi = 0x80808080
		var prev uint32
		for x, o := 0, 1; x+4 <= len(src) && o+4 <= len(buf); x, o = x+4, o+3 {
			p := binary.LittleEndian.Uint32(src[x:])
			binary.LittleEndian.PutUint32(buf[o:], ((p|hi)-(prev&^hi))^((p^^prev)&hi))
			prev = p
		}
		r1, r2 = 0, 0
		for i := 0; i < len(row); {
			c := row[i]
			j := i + 1
			if j+8 <= len(row) && row[j] == c {
				pat := uint64(c) * 0x0101010101010101
				for j+8 <= len(row) && binary.LittleEndian.Uint64(row[j:]) == pat {
					j += 8
				}
			}
			for j < len(row) && row[j] == c {
				j++
			}
			n := uint64(j - i)
			// checksum of n copies of c, at once
			r2 += n*r1 + uint64(c)*n*(n+1)/2
			r1 += uint64(c) * n
			l := lit[c]
			w.put(uint64(l.code), uint(l.n))
			run := int(n) - 1
			for run >= 3 {
				m := min(run, 258)
				if rest := run - m; rest > 0 && rest < 3 {
					m -= 3 - rest // leave a tail long enough for another match
				}
				w.copyBack(m, 1)
				run -= m
			}
			for ; run > 0; run-- {
				w.put(uint64(l.code), uint(l.n))
			}
			i = j
		}
		r1 %= 65521
		r2 %= 65521
		s2 = (s2 + uint64(rowLen)*s1 + r2) % 65521
		s1 = (s1 + r1) % 65521
	}
	w.code(0, 7) // end of block: symbol 256
	return binary.BigEndian.AppendUint32(w.flush(), uint32(s2<<16|s1))
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
	if w.nbits >= 32 {
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(w.bits))
		w.bits >>= 32
		w.nbits -= 32
	}
}

// code writes a Huffman code of n bits, which deflate stores most significant bit first.
func (w *bitWriter) code(c uint32, n uint) {
	w.put(uint64(bits.Reverse32(c)>>(32-n)), n)
}

// copyBack writes a back-reference of length n (3–258) at distance d (1–32768).
func (w *bitWriter) copyBack(n, d int) {
	sym, extra, nextra := lengthCode(n)
	if sym < 280 {
		w.code(uint32(sym-256), 7)
	} else {
		w.code(0xc0+uint32(sym-280), 8)
	}
	if nextra > 0 {
		w.put(uint64(extra), nextra)
	}
	// Distance codes: 0–3 are 1–4; above, each pair of codes doubles the span, with nb extra bits.
	if d <= 4 {
		w.code(uint32(d-1), 5)
		return
	}
	v := uint32(d - 1)
	nb := uint(bits.Len32(v) - 2)
	w.code(2*uint32(nb)+(v>>nb)&1+2, 5)
	w.put(uint64(v&(1<<nb-1)), nb)
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
	for w.nbits > 0 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.nbits -= min(w.nbits, 8)
	}
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
