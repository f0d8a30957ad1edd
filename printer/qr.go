package printer

import (
	"fmt"
	"math/bits"
)

// This file is a QR code encoder written from ISO/IEC 18004:2015, limited to what the status
// code needs: one segment in byte mode, no ECI, versions 1 to 40 at any error correction level.
// It works on one flat byte per module and allocates a handful of buffers per symbol, because
// every card carries two codes and the line's budget is counted in microseconds per card.

// QRCorrection is a QR code's error correction level: the share of codewords that Reed–Solomon
// can restore, about 7 % (L), 15 % (M), 25 % (Q) or 30 % (H). More correction makes a larger
// symbol for the same content.
type QRCorrection uint8

// The error correction levels, in order of strength.
const (
	QRCorrectionL QRCorrection = iota
	QRCorrectionM
	QRCorrectionQ
	QRCorrectionH
)

// qrFormatLevelBits are the two bits that name each level in the format information (clause
// 7.9.1); they are not in order of strength.
var qrFormatLevelBits = [4]uint32{QRCorrectionL: 1, QRCorrectionM: 0, QRCorrectionQ: 3, QRCorrectionH: 2}

// qrECPerBlock and qrBlocks are Table 9 of the specification: per level and version (index 0 is
// unused), the error correction codewords of each block and the number of blocks. The data
// codewords per block follow from them: the version's codewords less the error correction, split
// as evenly as possible, the longer blocks (one more data codeword) last.
var qrECPerBlock = [4][41]uint8{
	QRCorrectionL: {0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	QRCorrectionM: {0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28},
	QRCorrectionQ: {0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	QRCorrectionH: {0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
}

var qrBlocks = [4][41]uint8{
	QRCorrectionL: {0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25},
	QRCorrectionM: {0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49},
	QRCorrectionQ: {0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68},
	QRCorrectionH: {0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81},
}

// qrMaxVersion is the largest symbol: 177 modules square.
const qrMaxVersion = 40

// qrAutoMask asks qrEncode to choose the mask by the penalty rules.
const qrAutoMask = -1

// qrSymbol is an encoded QR code: size×size modules row by row, 1 = dark, no quiet zone.
type qrSymbol struct {
	version int
	mask    int
	size    int
	mods    []byte
}

func qrSize(version int) int { return 4*version + 17 }

// qrTotalCodewords is the number of 8-bit codewords a version holds: its modules less the
// function patterns, format and version information, divided by 8 (the rest are remainder bits).
func qrTotalCodewords(version int) int {
	s := qrSize(version)
	n := s*s - 3*64 - 2*(s-16) - 2*15 - 1 // finders with separators, timing, format, dark module
	if version >= 2 {
		a := version/7 + 2
		n -= (a*a-3)*25 - 2*(a-2)*5 // alignment patterns less their overlap with the timing
	}
	if version >= 7 {
		n -= 2 * 18
	}
	return n / 8
}

// qrDataCodewords is what a version carries at a level after the error correction codewords.
func qrDataCodewords(version int, level QRCorrection) int {
	return qrTotalCodewords(version) - int(qrBlocks[level][version])*int(qrECPerBlock[level][version])
}

// qrCountBits is the length of the byte mode character count indicator (Table 3).
func qrCountBits(version int) int {
	if version <= 9 {
		return 8
	}
	return 16
}

// qrCapacity is the most bytes a version holds in one byte mode segment at a level.
func qrCapacity(version int, level QRCorrection) int {
	return (qrDataCodewords(version, level)*8 - 4 - qrCountBits(version)) / 8
}

// qrAlignmentCenters returns the row (and column) coordinates of the alignment pattern centres
// (Annex E): the first at 6, the last 7 from the far edge, the ones between evenly spaced by an
// even step counted from the last, so that only the first gap may be shorter.
func qrAlignmentCenters(version int, buf []int) []int {
	if version == 1 {
		return buf[:0]
	}
	n := version/7 + 2
	last := qrSize(version) - 7
	step := 26 // version 32 is the one exception to the rule below
	if version != 32 {
		step = (last - 6 + n - 2) / (n - 1) // ceiling
		step += step & 1
	}
	buf = buf[:n]
	buf[0] = 6
	for i := n - 1; i >= 1; i-- {
		buf[i] = last - (n-1-i)*step
	}
	return buf
}

// gfTables are exp and log in GF(256) with the QR code's primitive polynomial
// x⁸+x⁴+x³+x²+1 (0x11D) and generator α = 2. exp runs to 510 so a product of two logs needs no
// reduction mod 255.
type gfTables struct {
	exp [512]byte
	log [256]uint16
}

var qrGF = newGFTables() // built once at init, never written after

func newGFTables() *gfTables {
	t := &gfTables{}
	x := 1
	for i := 0; i < 255; i++ {
		t.exp[i] = byte(x)
		t.log[x] = uint16(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11D
		}
	}
	for i := 255; i < len(t.exp); i++ {
		t.exp[i] = t.exp[i-255]
	}
	return t
}

// rsGenerator returns the logs of the coefficients of the generator polynomial of degree n,
// ∏(x − αⁱ) for i < n, leading coefficient (1) left out, highest degree first. None is zero.
func (t *gfTables) rsGenerator(n int) [30]uint16 {
	var p [31]byte // p[0..k] is the product so far, highest degree first
	p[0] = 1
	for i := 0; i < n; i++ {
		// p·(x + αⁱ): each coefficient moves up one degree and gains the next one times αⁱ.
		for k := i + 1; k >= 1; k-- {
			if c := p[k-1]; c != 0 {
				p[k] ^= t.exp[int(t.log[c])+i]
			}
		}
	}
	var g [30]uint16
	for k := 0; k < n; k++ {
		g[k] = t.log[p[k+1]]
	}
	return g
}

// rsRemainder writes to ec the n error correction codewords of data: the remainder of
// data(x)·xⁿ divided by the generator.
func (t *gfTables) rsRemainder(data []byte, gen *[30]uint16, ec []byte) {
	n := len(ec)
	clear(ec)
	for _, d := range data {
		f := d ^ ec[0]
		copy(ec, ec[1:])
		ec[n-1] = 0
		if f == 0 {
			continue
		}
		lf := int(t.log[f])
		for k := 0; k < n; k++ {
			ec[k] ^= t.exp[lf+int(gen[k])]
		}
	}
}

// qrEncode encodes data in byte mode as the smallest symbol that holds it at level. mask is 0–7,
// or qrAutoMask to pick the mask with the lowest penalty (clause 7.8.3), the lowest number on a tie.
func qrEncode(data []byte, level QRCorrection, mask int) (qrSymbol, error) {
	if level > QRCorrectionH {
		return qrSymbol{}, fmt.Errorf("encode QR code: unknown error correction level %d", level)
	}
	if mask < qrAutoMask || mask > 7 {
		return qrSymbol{}, fmt.Errorf("encode QR code: mask %d", mask)
	}
	version := 0
	for v := 1; v <= qrMaxVersion; v++ {
		if len(data) <= qrCapacity(v, level) {
			version = v
			break
		}
	}
	if version == 0 {
		return qrSymbol{}, fmt.Errorf("encode QR code: %d bytes exceed the %d a QR code holds at level %c",
			len(data), qrCapacity(qrMaxVersion, level), "LMQH"[level])
	}

	codewords := qrCodewords(data, version, level)

	s := qrSize(version)
	sym := qrSymbol{version: version, size: s, mods: make([]byte, s*s)}
	fn := make([]bool, s*s) // function modules and reserved areas: not data, never masked
	qrDrawFunctionPatterns(sym.mods, fn, version)
	qrPlace(sym.mods, fn, s, codewords)

	if mask == qrAutoMask {
		mask = qrChooseMask(sym.mods, fn, s, level)
	}
	qrApplyMask(sym.mods, fn, s, mask)
	qrDrawFormat(sym.mods, s, level, mask)
	sym.mask = mask
	return sym, nil
}

// qrCodewords builds the final codeword sequence (clause 7.6): the data codewords (mode,
// count, data, terminator, pad) split into blocks, each block's error correction appended, and
// both interleaved block by block.
func qrCodewords(data []byte, version int, level QRCorrection) []byte {
	total := qrTotalCodewords(version)
	nData := qrDataCodewords(version, level)
	nBlocks := int(qrBlocks[level][version])
	nEC := int(qrECPerBlock[level][version])

	// buf holds the data codewords, then the error correction of each block, then the result.
	buf := make([]byte, nData+nBlocks*nEC+total)
	dc := buf[:nData]
	// Mode 0100 and a count of 8 or 16 bits leave the data 4 bits off the byte boundary; the
	// 4-bit terminator brings the stream back onto it, and always fits (capacity is in bytes).
	n := len(data)
	i := 0
	var carry byte
	if qrCountBits(version) == 8 {
		dc[0] = 0x40 | byte(n>>4)
		carry, i = byte(n&0xF), 1
	} else {
		dc[0] = 0x40 | byte(n>>12)
		dc[1] = byte(n >> 4)
		carry, i = byte(n&0xF), 2
	}
	for _, b := range data {
		dc[i] = carry<<4 | b>>4
		carry = b & 0xF
		i++
	}
	dc[i] = carry << 4
	i++
	for pad := byte(0xEC); i < nData; i++ {
		dc[i] = pad
		pad ^= 0xEC ^ 0x11
	}

	ecAll := buf[nData : nData+nBlocks*nEC]
	out := buf[nData+nBlocks*nEC:]
	gen := qrGF.rsGenerator(nEC)
	short := nData / nBlocks
	nShort := nBlocks - nData%nBlocks
	start := 0
	for b := 0; b < nBlocks; b++ {
		l := short
		if b >= nShort {
			l++
		}
		qrGF.rsRemainder(dc[start:start+l], &gen, ecAll[b*nEC:(b+1)*nEC])
		start += l
	}

	k := 0
	for j := 0; j <= short; j++ {
		start := 0
		for b := 0; b < nBlocks; b++ {
			l := short
			if b >= nShort {
				l++
			}
			if j < l {
				out[k] = dc[start+j]
				k++
			}
			start += l
		}
	}
	for j := 0; j < nEC; j++ {
		for b := 0; b < nBlocks; b++ {
			out[k] = ecAll[b*nEC+j]
			k++
		}
	}
	return out
}

// qrDrawFunctionPatterns draws the finder patterns with their separators, the timing
// patterns, the alignment patterns, the dark module and the version information, and marks
// them and the format information areas as function modules.
func qrDrawFunctionPatterns(mods []byte, fn []bool, version int) {
	s := qrSize(version)
	set := func(r, c int, dark bool) {
		mods[r*s+c] = b2u(dark)
		fn[r*s+c] = true
	}
	for _, corner := range [3][2]int{{0, 0}, {0, s - 7}, {s - 7, 0}} {
		for dr := -1; dr <= 7; dr++ {
			for dc := -1; dc <= 7; dc++ {
				r, c := corner[0]+dr, corner[1]+dc
				if r < 0 || r >= s || c < 0 || c >= s {
					continue
				}
				d := max(abs(dr-3), abs(dc-3))
				set(r, c, d <= 1 || d == 3)
			}
		}
	}
	for i := 8; i < s-8; i++ {
		set(6, i, i%2 == 0)
		set(i, 6, i%2 == 0)
	}
	var cbuf [7]int
	centers := qrAlignmentCenters(version, cbuf[:])
	for ai, r := range centers {
		for aj, c := range centers {
			if (ai == 0 && aj == 0) || (ai == 0 && aj == len(centers)-1) || (ai == len(centers)-1 && aj == 0) {
				continue // those corners are the finder patterns'
			}
			for dr := -2; dr <= 2; dr++ {
				for dc := -2; dc <= 2; dc++ {
					set(r+dr, c+dc, max(abs(dr), abs(dc)) != 1)
				}
			}
		}
	}
	// Format information is drawn per mask; reserve its modules now. The dark module sits
	// beside the lower copy.
	for i := 0; i < 9; i++ {
		fn[8*s+i] = true
		fn[i*s+8] = true
	}
	for i := 0; i < 8; i++ {
		fn[8*s+s-1-i] = true
		fn[(s-1-i)*s+8] = true
	}
	set(s-8, 8, true)

	if version >= 7 {
		bits := qrVersionBits(version)
		for i := 0; i < 18; i++ {
			dark := bits>>i&1 != 0
			a, b := s-11+i%3, i/3
			set(b, a, dark) // upper right, 6 rows of 3
			set(a, b, dark) // lower left, 3 rows of 6
		}
	}
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// qrVersionBits is the 18-bit version information: the version in 6 bits followed by the
// 12-bit remainder of BCH(18,6) with generator x¹²+x¹¹+x¹⁰+x⁹+x⁸+x⁵+x²+1 (Annex D).
func qrVersionBits(version int) uint32 {
	v := uint32(version)
	rem := v << 12
	for i := 17; i >= 12; i-- {
		if rem>>i&1 != 0 {
			rem ^= 0x1F25 << (i - 12)
		}
	}
	return v<<12 | rem
}

// qrFormatBits is the 15-bit format information: level and mask in 5 bits, the 10-bit remainder
// of BCH(15,5) with generator x¹⁰+x⁸+x⁵+x⁴+x²+x+1, all XORed with 101010000010010 so that it
// is never all light (Annex C).
func qrFormatBits(level QRCorrection, mask int) uint32 {
	d := qrFormatLevelBits[level]<<3 | uint32(mask)
	rem := d << 10
	for i := 14; i >= 10; i-- {
		if rem>>i&1 != 0 {
			rem ^= 0x537 << (i - 10)
		}
	}
	return (d<<10 | rem) ^ 0x5412
}

// qrFormatPositions returns where bit i of the format information goes (Figure 25), as
// (row, column) for the copy beside the upper left finder and the other copy: bits 0–7 down
// column 8 (skipping the timing row) and right to left along row 8 at the upper right; bits
// 8–14 right to left along row 8 (skipping the timing column) and down column 8 at the lower left.
func qrFormatPositions(s, i int) [2][2]int {
	var a [2]int
	switch {
	case i < 6:
		a = [2]int{i, 8}
	case i < 8:
		a = [2]int{i + 1, 8}
	case i == 8:
		a = [2]int{8, 7}
	default:
		a = [2]int{8, 14 - i}
	}
	if i < 8 {
		return [2][2]int{a, {8, s - 1 - i}}
	}
	return [2][2]int{a, {s - 15 + i, 8}}
}

// qrDrawFormat writes both copies of the format information for level and mask.
func qrDrawFormat(mods []byte, s int, level QRCorrection, mask int) {
	bits := qrFormatBits(level, mask)
	for i := 0; i < 15; i++ {
		for _, rc := range qrFormatPositions(s, i) {
			mods[rc[0]*s+rc[1]] = byte(bits >> i & 1)
		}
	}
}

// qrPlace lays the codewords, most significant bit first, into the data modules (clause
// 7.7.3): two columns at a time from the right edge, up then down then up, the vertical timing
// column skipped; modules left over are remainder bits, light.
func qrPlace(mods []byte, fn []bool, s int, codewords []byte) {
	nbits := len(codewords) * 8
	i := 0
	up := true
	for right := s - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for k := 0; k < s; k++ {
			r := k
			if up {
				r = s - 1 - k
			}
			for c := right; c >= right-1; c-- {
				p := r*s + c
				if fn[p] {
					continue
				}
				if i < nbits {
					mods[p] = codewords[i>>3] >> (7 - i&7) & 1
				}
				i++
			}
		}
		up = !up
	}
}

// qrMaskTable says, for a module whose row and column are taken mod 12, which of the eight data
// masks (Table 10) invert it: bit m for mask m. All eight repeat every 12 rows and columns.
var qrMaskTable = func() (t [12][12]byte) {
	for i := 0; i < 12; i++ {
		for j := 0; j < 12; j++ {
			conds := [8]bool{
				(i+j)%2 == 0,
				i%2 == 0,
				j%3 == 0,
				(i+j)%3 == 0,
				(i/2+j/3)%2 == 0,
				i*j%2+i*j%3 == 0,
				(i*j%2+i*j%3)%2 == 0,
				((i+j)%2+i*j%3)%2 == 0,
			}
			for m, c := range conds {
				if c {
					t[i][j] |= 1 << m
				}
			}
		}
	}
	return t
}()

func qrApplyMask(mods []byte, fn []bool, s, mask int) {
	for r := 0; r < s; r++ {
		row := &qrMaskTable[r%12]
		for c := 0; c < s; c++ {
			p := r*s + c
			if !fn[p] {
				mods[p] ^= row[c%12] >> mask & 1
			}
		}
	}
}

// The penalty weights of clause 7.8.3.1, Table 11.
const (
	qrPenaltyN1 = 3
	qrPenaltyN2 = 3
	qrPenaltyN3 = 40
	qrPenaltyN4 = 10
)

// qrChooseMask returns the mask with the lowest penalty, the lowest number on a tie.
func qrChooseMask(mods []byte, fn []bool, s int, level QRCorrection) int {
	scores := qrMaskPenalties(mods, fn, s, level)
	best := 0
	for m, score := range scores {
		if score < scores[best] {
			best = m
		}
	}
	return best
}

// qrLine is one row or column of a symbol as bits, module i at bit i+4: the four light
// modules of quiet zone before it are bits 0–3, and everything past its end is light too.
// 192 bits hold the largest symbol's 177 modules and the quiet zone on both sides. Three fields,
// not an array, so that the compiler keeps them in registers.
type qrLine struct{ w0, w1, w2 uint64 }

// shr moves bits toward bit 0: bit i of the result is bit i+k of x. 0 < k < 64.
func (x qrLine) shr(k uint) qrLine {
	return qrLine{x.w0>>k | x.w1<<(64-k), x.w1>>k | x.w2<<(64-k), x.w2 >> k}
}

// shl moves bits away from bit 0: bit i of the result is bit i−k of x. 0 < k < 64.
func (x qrLine) shl(k uint) qrLine {
	return qrLine{x.w0 << k, x.w1<<k | x.w0>>(64-k), x.w2<<k | x.w1>>(64-k)}
}

func (x qrLine) and(y qrLine) qrLine    { return qrLine{x.w0 & y.w0, x.w1 & y.w1, x.w2 & y.w2} }
func (x qrLine) andNot(y qrLine) qrLine { return qrLine{x.w0 &^ y.w0, x.w1 &^ y.w1, x.w2 &^ y.w2} }
func (x qrLine) or(y qrLine) qrLine     { return qrLine{x.w0 | y.w0, x.w1 | y.w1, x.w2 | y.w2} }
func (x qrLine) xor(y qrLine) qrLine    { return qrLine{x.w0 ^ y.w0, x.w1 ^ y.w1, x.w2 ^ y.w2} }
func (x qrLine) not() qrLine            { return qrLine{^x.w0, ^x.w1, ^x.w2} }
func (x qrLine) count() int {
	return bits.OnesCount64(x.w0) + bits.OnesCount64(x.w1) + bits.OnesCount64(x.w2)
}

// set makes module i dark.
func (x *qrLine) set(i int) {
	b := uint64(1) << uint((i+4)&63)
	switch (i + 4) >> 6 {
	case 0:
		x.w0 |= b
	case 1:
		x.w1 |= b
	default:
		x.w2 |= b
	}
}

// qrSpan is a line with modules lo to hi−1 set.
func qrSpan(lo, hi int) qrLine {
	var l qrLine
	for i := lo; i < hi; i++ {
		l.set(i)
	}
	return l
}

// qrMaskLines[m][i%12] are the modules mask m inverts in row i (bit j+4 for column j).
var qrMaskLines = func() (t [8][12]qrLine) {
	for m := 0; m < 8; m++ {
		for i := 0; i < 12; i++ {
			for j := 0; j < 177; j++ {
				if qrMaskTable[i][j%12]>>m&1 != 0 {
					t[m][i].set(j)
				}
			}
		}
	}
	return t
}()

// qrMaskColumns[m][j%12] are the modules mask m inverts in column j (bit i+4 for row i).
var qrMaskColumns = func() (t [8][12]qrLine) {
	for m := 0; m < 8; m++ {
		for j := 0; j < 12; j++ {
			for i := 0; i < 177; i++ {
				if qrMaskTable[i%12][j]>>m&1 != 0 {
					t[m][j].set(i)
				}
			}
		}
	}
	return t
}()

// qrMaskPenalties scores the symbol under each of the eight masks, format information
// included (clause 7.8.3, Table 11):
//   - N1 + (k−5) for each run of k ≥ 5 modules of one colour in a row or column;
//   - N2 for each 2×2 block of one colour (so an m×n block scores N2·(m−1)·(n−1));
//   - N3 for each dark:light:dark:light:dark run of 1:1:3:1:1 in a row or column with 4 light
//     modules before or after it, the light quiet zone beyond the edge counting as light;
//   - N4 for each full 5 % by which the share of dark modules departs from 50 %.
//
// It works on rows and columns as bit lines, 64 modules to an operation.
func qrMaskPenalties(mods []byte, fn []bool, s int, level QRCorrection) [8]int {
	lines := make([]qrLine, 6*s)
	rows, cols := lines[:s], lines[s:2*s]
	dataRows, dataCols := lines[2*s:3*s], lines[3*s:4*s]
	tr, tc := lines[4*s:5*s], lines[5*s:]
	for r := 0; r < s; r++ {
		for c := 0; c < s; c++ {
			p := r*s + c
			if mods[p] != 0 {
				rows[r].set(c)
				cols[c].set(r)
			}
			if !fn[p] {
				dataRows[r].set(c)
				dataCols[c].set(r)
			}
		}
	}
	pairs := qrSpan(0, s-1) // where a module and the next are both in the line
	total := s * s

	var scores [8]int
	for m := 0; m < 8; m++ {
		for i := 0; i < s; i++ {
			tr[i] = rows[i].xor(qrMaskLines[m][i%12].and(dataRows[i]))
			tc[i] = cols[i].xor(qrMaskColumns[m][i%12].and(dataCols[i]))
		}
		fb := qrFormatBits(level, m)
		for i := 0; i < 15; i++ {
			if fb>>i&1 == 0 {
				continue
			}
			for _, rc := range qrFormatPositions(s, i) {
				tr[rc[0]].set(rc[1])
				tc[rc[1]].set(rc[0])
			}
		}

		score, dark := 0, 0
		for i := 0; i < s; i++ {
			score += qrLinePenalty(tr[i], pairs) + qrLinePenalty(tc[i], pairs)
			dark += tr[i].count()
			if i+1 < s {
				// Both rows agree at j and j+1, and row i agrees with itself from j to j+1.
				same := tr[i].xor(tr[i+1]).not()
				flat := tr[i].xor(tr[i].shr(1)).not()
				score += qrPenaltyN2 * same.and(same.shr(1)).and(flat).and(pairs).count()
			}
		}
		score += qrPenaltyN4 * (abs(20*dark-10*total) / total)
		scores[m] = score
	}
	return scores
}

// qrLinePenalty scores rules 1 and 3 on one line; pairs marks the modules that have a next
// module in the line.
func qrLinePenalty(x, pairs qrLine) int {
	x1, x2, x3 := x.shr(1), x.shr(2), x.shr(3)
	// Rule 1: eq marks a module the same as the next; a run of k ≥ 5 has k−4 windows of five
	// alike, one of them at its start, so N1 + (k−5) = windows + (N1−1)·starts.
	eq := x.xor(x1).not().and(pairs)
	win := eq.and(eq.shr(1)).and(eq.shr(2)).and(eq.shr(3))
	starts := win.andNot(eq.shl(1))
	score := win.count() + (qrPenaltyN1-1)*starts.count()
	// Rule 3: 1011101 starting at a module, with 0000 ending just before it or starting just
	// after it; the quiet zone and the zero bits past the line are light.
	core := x.andNot(x1).and(x2).and(x3).and(x.shr(4)).andNot(x.shr(5)).and(x.shr(6))
	light4 := x.or(x1).or(x2).or(x3).not()
	score += qrPenaltyN3 * core.and(light4.shl(4).or(light4.shr(7))).count()
	return score
}
