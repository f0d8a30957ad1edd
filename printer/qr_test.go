package printer

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	skip2 "github.com/skip2/go-qrcode"
)

var qrLevels = []struct {
	level QRCorrection
	zxing decoder.ErrorCorrectionLevel
}{
	{QRCorrectionL, decoder.ErrorCorrectionLevel_L},
	{QRCorrectionM, decoder.ErrorCorrectionLevel_M},
	{QRCorrectionQ, decoder.ErrorCorrectionLevel_Q},
	{QRCorrectionH, decoder.ErrorCorrectionLevel_H},
}

// TestQRVersionTables checks the encoder's version tables against gozxing's (written
// independently from the same specification) and against the function patterns the encoder
// draws: the modules left for data must be the version's codewords plus its remainder bits.
func TestQRVersionTables(t *testing.T) {
	remainderBits := func(v int) int { // Table 1
		switch {
		case v >= 2 && v <= 6:
			return 7
		case v >= 14 && v <= 20, v >= 28 && v <= 34:
			return 3
		case v >= 21 && v <= 27:
			return 4
		}
		return 0
	}
	for v := 1; v <= qrMaxVersion; v++ {
		zv, err := decoder.Version_GetVersionForNumber(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := qrSize(v), zv.GetDimensionForVersion(); got != want {
			t.Errorf("version %d: size %d, gozxing %d", v, got, want)
		}
		if got, want := qrTotalCodewords(v), zv.GetTotalCodewords(); got != want {
			t.Errorf("version %d: %d codewords, gozxing %d", v, got, want)
		}
		var buf [7]int
		if got, want := fmt.Sprint(qrAlignmentCenters(v, buf[:])), fmt.Sprint(zv.GetAlignmentPatternCenters()); got != want {
			t.Errorf("version %d: alignment centres %s, gozxing %s", v, got, want)
		}
		for _, l := range qrLevels {
			zb := zv.GetECBlocksForLevel(l.zxing)
			if got, want := int(qrECPerBlock[l.level][v]), zb.GetECCodewordsPerBlock(); got != want {
				t.Errorf("version %d-%v: %d EC codewords per block, gozxing %d", v, l.zxing, got, want)
			}
			if got, want := int(qrBlocks[l.level][v]), zb.GetNumBlocks(); got != want {
				t.Errorf("version %d-%v: %d blocks, gozxing %d", v, l.zxing, got, want)
			}
		}
		s := qrSize(v)
		mods, fn := make([]byte, s*s), make([]bool, s*s)
		qrDrawFunctionPatterns(mods, fn, v)
		free := 0
		for _, f := range fn {
			if !f {
				free++
			}
		}
		if want := qrTotalCodewords(v)*8 + remainderBits(v); free != want {
			t.Errorf("version %d: %d data modules, want %d", v, free, want)
		}
	}
	// Byte capacities at the ends of Table 7.
	for _, c := range []struct {
		v     int
		level QRCorrection
		want  int
	}{{1, QRCorrectionL, 17}, {1, QRCorrectionM, 14}, {1, QRCorrectionQ, 11}, {1, QRCorrectionH, 7},
		{40, QRCorrectionL, 2953}, {40, QRCorrectionM, 2331}, {40, QRCorrectionQ, 1663}, {40, QRCorrectionH, 1273}} {
		if got := qrCapacity(c.v, c.level); got != c.want {
			t.Errorf("capacity %d-%c = %d bytes, want %d", c.v, "LMQH"[c.level], got, c.want)
		}
	}
}

// zxingDecodeModules decodes a symbol's modules with gozxing's decoder (format and version
// information, unmasking, Reed–Solomon, bit stream) and returns the bytes of its byte segments.
func zxingDecodeModules(t testing.TB, sym qrSymbol) ([]byte, error) {
	t.Helper()
	bm, err := gozxing.NewSquareBitMatrix(sym.size)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < sym.size; r++ {
		for c := 0; c < sym.size; c++ {
			if sym.mods[r*sym.size+c] != 0 {
				bm.Set(c, r)
			}
		}
	}
	res, err := decoder.NewDecoder().Decode(bm, nil)
	if err != nil {
		return nil, err
	}
	return bytes.Join(res.GetByteSegments(), nil), nil
}

// zxingDecodeImage finds and decodes the QR code in an image, as a scanner would: the finder
// and alignment patterns must be right for this to work.
func zxingDecodeImage(t testing.TB, img image.Image) ([]byte, error) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return nil, err
	}
	segs, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_BYTE_SEGMENTS].([][]byte)
	return bytes.Join(segs, nil), nil
}

// qrTestContent returns n bytes of one of three kinds: URL-like ASCII, UTF-8 text with
// Norwegian and Polish letters (cut at a rune boundary, so possibly a little shorter), or
// arbitrary binary bytes.
func qrTestContent(rng *rand.Rand, kind string, n int) []byte {
	switch kind {
	case "ascii":
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/?&=:."
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	case "utf8":
		words := []string{"Øyvind ", "Ødegård ", "Bygg og Rør AS ", "Łukasz ", "Żółć ", "Šarūnas ", "kort ", "å "}
		var b []byte
		for len(b) < n {
			b = append(b, words[rng.IntN(len(words))]...)
		}
		b = b[:n]
		for !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return b
	default:
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
}

// TestQREncodeDecodes encodes, at every level, contents at both ends of every version's range
// (the longest that fits and the shortest that needs it) and decodes them with gozxing.
func TestQREncodeDecodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"ascii", "utf8", "binary"}
	for _, l := range qrLevels {
		for v := 1; v <= qrMaxVersion; v++ {
			lengths := []int{qrCapacity(v, l.level)}
			if v > 1 {
				lengths = append(lengths, qrCapacity(v-1, l.level)+1)
			}
			for _, n := range lengths {
				kind := kinds[(v+n)%len(kinds)]
				content := qrTestContent(rng, kind, n)
				if kind == "utf8" && len(content) != n {
					content = append(content, strings.Repeat("x", n-len(content))...)
				}
				sym, err := qrEncode(content, l.level, qrAutoMask)
				if err != nil {
					t.Fatalf("%d %s bytes at %v: %v", n, kind, l.zxing, err)
				}
				if sym.version != v || sym.size != qrSize(v) || len(sym.mods) != sym.size*sym.size {
					t.Errorf("%d bytes at %v: version %d, %d modules square, want version %d", n, l.zxing, sym.version, sym.size, v)
				}
				got, err := zxingDecodeModules(t, sym)
				if err != nil || !bytes.Equal(got, content) {
					t.Errorf("%d %s bytes at %v-%d mask %d: gozxing read %q (%v), want %q", n, kind, v, l.zxing, sym.mask, got, err, content)
				}
			}
		}
		tooLong := make([]byte, qrCapacity(qrMaxVersion, l.level)+1)
		if _, err := qrEncode(tooLong, l.level, qrAutoMask); err == nil {
			t.Errorf("%d bytes at %v encoded, want an error", len(tooLong), l.zxing)
		}
	}
}

// TestQRModulesScan renders QRModules' codes as images for contents of 1 to 600 bytes (versions
// 1 to 19 at level M) and has gozxing find and read them as a scanner would.
func TestQRModulesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	versions := map[int]bool{}
	for _, kind := range []string{"ascii", "utf8", "binary"} {
		for n := 1; n <= 600; n = n*5/4 + 1 {
			content := string(qrTestContent(rng, kind, n))
			img, err := QRImage(content, 3)
			if err != nil {
				t.Fatal(err)
			}
			sym, _ := qrEncode([]byte(content), QRLevel, qrAutoMask)
			versions[sym.version] = true
			got, err := zxingDecodeImage(t, img)
			if err != nil || string(got) != content {
				t.Errorf("%d %s bytes (version %d): gozxing read %q (%v), want %q", len(content), kind, sym.version, got, err, content)
			}
		}
	}
	if len(versions) < 12 {
		t.Errorf("covered versions %v, want at least 12", versions)
	}
}

// TestQREveryMask forces each of the eight masks on symbols with and without version
// information; a reader unmasks by the mask the format information names, so a wrong mask
// pattern or format word cannot decode.
func TestQREveryMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{10, 130, 400} { // versions 1, 8 and 14 at M
		content := qrTestContent(rng, "binary", n)
		seen := map[string]int{}
		for m := 0; m < 8; m++ {
			sym, err := qrEncode(content, QRCorrectionM, m)
			if err != nil {
				t.Fatal(err)
			}
			if sym.mask != m {
				t.Errorf("asked for mask %d, got %d", m, sym.mask)
			}
			if prev, ok := seen[string(sym.mods)]; ok {
				t.Errorf("%d bytes: masks %d and %d give the same symbol", n, prev, m)
			}
			seen[string(sym.mods)] = m
			got, err := zxingDecodeModules(t, sym)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("%d bytes (version %d) mask %d: gozxing read %q (%v)", n, sym.version, m, got, err)
			}
		}
	}
	if _, err := qrEncode([]byte("x"), QRCorrectionM, 8); err == nil {
		t.Error("mask 8 accepted")
	}
}

// TestQRZbar is a second opinion from a decoder in another language: zbarimg reads a few codes
// of different versions from PNG files.
func TestQRZbar(t *testing.T) {
	// testsupport.Need would be the way, but testsupport imports this package; this is its rule.
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg (zbar-tools) missing in CI")
		}
		t.Skip("zbarimg not installed")
	}
	key := DevSigningKey()
	url, err := StatusURL("https://status.hms.example/k", key, "1000000017", SampleFace(Construction).Expiry)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, content := range []string{
		"1",
		url,
		"Øyvind Ødegård, Bygg og Rør AS, Łukasz Żółć",
		string(qrTestContent(rng, "ascii", 300)),
		string(qrTestContent(rng, "ascii", 1000)),
	} {
		img, err := QRImage(content, 4)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "qr.png")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbarimg, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", p).Output()
		if got := strings.TrimSuffix(string(out), "\n"); err != nil || got != content {
			t.Errorf("zbarimg read %q (%v), want %q", got, err, content)
		}
	}
}

// skip2Symbol encodes content with skip2/go-qrcode at level M, the encoder QRModules used before.
func skip2Symbol(t *testing.T, content []byte) ([][]bool, int) {
	t.Helper()
	q, err := skip2.New(string(content), skip2.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.DisableBorder = true
	return q.Bitmap(), q.VersionNumber
}

// qrReadMask reads the mask number from the first copy of a symbol's format information.
func qrReadMask(mods [][]bool) int {
	var bits uint32
	for i := 0; i < 6; i++ {
		bits |= uint32(b2u(mods[i][8])) << i
	}
	bits |= uint32(b2u(mods[7][8]))<<6 | uint32(b2u(mods[8][8]))<<7 | uint32(b2u(mods[8][7]))<<8
	for i := 9; i < 15; i++ {
		bits |= uint32(b2u(mods[8][14-i])) << i
	}
	return int((bits^0x5412)>>10) & 7
}

func equalModules(a [][]bool, b qrSymbol) bool {
	if len(a) != b.size {
		return false
	}
	for r, row := range a {
		for c, v := range row {
			if v != (b.mods[r*b.size+c] != 0) {
				return false
			}
		}
	}
	return true
}

// TestQRAgreesWithSkip2 compares with skip2/go-qrcode, a third encoder. On lowercase text, which
// both encode as one byte mode segment, the symbols under the same mask must be identical. For
// status URLs, skip2 may split off numeric and alphanumeric segments and scores masks by its own
// reading of the rules, so the test only reports how often the symbols agree.
func TestQRAgreesWithSkip2(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	sameMask := 0
	const nText = 60
	for i := 0; i < nText; i++ {
		b := make([]byte, 1+rng.IntN(400))
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		theirs, version := skip2Symbol(t, b)
		m := qrReadMask(theirs)
		ours, err := qrEncode(b, QRCorrectionM, m)
		if err != nil {
			t.Fatal(err)
		}
		if ours.version != version || !equalModules(theirs, ours) {
			t.Errorf("%d letters under mask %d: our version %d symbol differs from skip2's version %d", len(b), m, ours.version, version)
		}
		if auto, _ := qrEncode(b, QRCorrectionM, qrAutoMask); auto.mask == m {
			sameMask++
		}
	}
	t.Logf("lowercase text: same mask chosen for %d of %d", sameMask, nText)

	const nURL = 200
	identical, sameEncoding := 0, 0
	for i := 0; i < nURL; i++ {
		var seed [32]byte
		for j := range seed {
			seed[j] = byte(rng.UintN(256))
		}
		key := ed25519.NewKeyFromSeed(seed[:])
		card := fmt.Sprintf("1%09d", rng.IntN(1_000_000_000))
		url, err := StatusURL("https://status.hms.example/k", key, card, SampleFace(Construction).Expiry)
		if err != nil {
			t.Fatal(err)
		}
		theirs, _ := skip2Symbol(t, []byte(url))
		ours, err := qrEncode([]byte(url), QRLevel, qrAutoMask)
		if err != nil {
			t.Fatal(err)
		}
		if equalModules(theirs, ours) {
			identical++
		}
		if forced, _ := qrEncode([]byte(url), QRLevel, qrReadMask(theirs)); equalModules(theirs, forced) {
			sameEncoding++
		}
	}
	t.Logf("status URLs: %d of %d identical to skip2's; %d of %d identical under skip2's mask", identical, nURL, sameEncoding, nURL)
}

// FuzzQRModules: any content up to the capacity of version 40-M encodes, and gozxing reads
// back exactly its bytes; longer content is refused; nothing panics.
func FuzzQRModules(f *testing.F) {
	for _, s := range []string{"", "a", "https://status.hms.example/k/1000000017?x=20310101&s=abc", "Øyvind Ødegård", "\x00\xff\xec\x11", strings.Repeat("z", 2331)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		mods, err := QRModules(content)
		if len(content) > qrCapacity(qrMaxVersion, QRLevel) {
			if err == nil {
				t.Fatalf("%d bytes encoded, capacity is %d", len(content), qrCapacity(qrMaxVersion, QRLevel))
			}
			return
		}
		if err != nil {
			t.Fatalf("%d bytes: %v", len(content), err)
		}
		res, err := decoder.NewDecoder().DecodeBoolMap(mods, nil)
		if err != nil {
			t.Fatalf("%d bytes (%d modules): gozxing: %v", len(content), len(mods), err)
		}
		if got := bytes.Join(res.GetByteSegments(), nil); !bytes.Equal(got, []byte(content)) {
			t.Fatalf("gozxing read %q, want %q", got, content)
		}
	})
}

// refPenalty is the mask evaluation score of a finished symbol, one module at a time, the
// plain reading of Table 11 that qrMaskPenalties must agree with:
//   - N1 + (k−5) for each run of k ≥ 5 modules of one colour in a row or column;
//   - N2 for each 2×2 block of one colour (an m×n block so scores N2·(m−1)·(n−1));
//   - N3 for each dark:light:dark:light:dark run of 1:1:3:1:1 in a row or column with 4 light
//     modules before or after it, the light quiet zone beyond the edge counting as light;
//   - N4 for each full 5 % by which the share of dark modules departs from 50 %.
func refPenalty(mods []byte, s int) int {
	score := 0
	for i := 0; i < s; i++ {
		score += refLinePenalty(mods, i*s, 1, s)
		score += refLinePenalty(mods, i, s, s)
	}
	dark := 0
	for r := 0; r < s; r++ {
		row := mods[r*s : r*s+s]
		for _, v := range row {
			dark += int(v)
		}
		if r == s-1 {
			break
		}
		next := mods[(r+1)*s : (r+1)*s+s]
		for c := 0; c < s-1; c++ {
			v := row[c]
			if row[c+1] == v && next[c] == v && next[c+1] == v {
				score += qrPenaltyN2
			}
		}
	}
	total := s * s
	score += qrPenaltyN4 * (abs(20*dark-10*total) / total)
	return score
}

// refLinePenalty scores rules 1 and 3 on the n modules of one row or column, starting at off and
// step apart.
func refLinePenalty(mods []byte, off, step, n int) int {
	score := 0
	run := 0
	var prev byte = 2
	// hist holds the last modules seen, newest in bit 0, with light beyond the edge: 15 bits
	// tell whether a 1011101 has four light modules before it, after it, or both.
	var hist uint32
	for k, p := 0, off; k < n+4; k++ {
		var v byte
		if k < n {
			v = mods[p]
			p += step
			if v == prev {
				run++
			} else {
				if run >= 5 {
					score += qrPenaltyN1 + run - 5
				}
				prev, run = v, 1
			}
		}
		hist = (hist<<1 | uint32(v)) & 0x7FFF
		if hist&0x7FF == 0x05D || hist&0x7FF == 0x5D0 {
			score += qrPenaltyN3
			if hist == 0x05D0 {
				score -= qrPenaltyN3 // light on both sides: one pattern, already counted
			}
		}
	}
	if run >= 5 {
		score += qrPenaltyN1 + run - 5
	}
	return score
}

// TestQRPenaltyRules pins the reference scorer to the rules of Table 11 on small cases.
func TestQRPenaltyRules(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{
		{"10101010101", 0},
		{"1111101010", 3},          // a run of 5
		{"1111111010", 5},          // a run of 7
		{"0000011111", 6},          // two runs of 5
		{"1011101", 40},            // the quiet zone is light on both sides: one pattern
		{"00001011101", 40},        // light before (and after, beyond the edge)
		{"110111011", 0},           // dark on both sides
		{"1101110100001", 40},      // light after only
		{"101110100001011101", 80}, // two patterns sharing the light between them
		{"100001011101000011", 40}, // light on both sides counts once
	} {
		b := make([]byte, len(c.line))
		for i := range b {
			b[i] = c.line[i] - '0'
		}
		if got := refLinePenalty(b, 0, 1, len(b)); got != c.want {
			t.Errorf("line %s scores %d, want %d", c.line, got, c.want)
		}
	}
	// 3×3 light: four 2×2 blocks (4·N2) and 0 % dark, ten 5 % steps from half (10·N4).
	if got, want := refPenalty(make([]byte, 9), 3), 4*qrPenaltyN2+10*qrPenaltyN4; got != want {
		t.Errorf("3×3 light scores %d, want %d", got, want)
	}
}

// TestQRMaskPenalties checks the bit-parallel scorer against the reference, line by line on
// random lines of every length a symbol has, and mask by mask on whole symbols.
func TestQRMaskPenalties(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := 2; n <= qrSize(qrMaxVersion); n++ {
		for k := 0; k < 20; k++ {
			b := make([]byte, n)
			var l qrLine
			for i := range b {
				// Long runs and the 1011101 pattern must turn up, so not every bit is a coin toss.
				if i >= 7 && rng.IntN(4) == 0 {
					copy(b[i-7:i], []byte{0, 1, 0, 1, 1, 1, 0})
				} else if i > 0 && rng.IntN(3) == 0 {
					b[i] = b[i-1]
				} else {
					b[i] = byte(rng.IntN(2))
				}
			}
			for i, v := range b {
				if v != 0 {
					l.set(i)
				}
			}
			if got, want := qrLinePenalty(l, qrSpan(0, n-1)), refLinePenalty(b, 0, 1, n); got != want {
				t.Fatalf("line %v scores %d, reference %d", b, got, want)
			}
		}
	}
	for _, v := range []int{1, 2, 6, 7, 8, 10, 13, 14, 20, 21, 27, 28, 32, 34, 35, 40} {
		level := qrLevels[v%4].level
		content := qrTestContent(rng, "binary", qrCapacity(v, level))
		s := qrSize(v)
		mods, fn := make([]byte, s*s), make([]bool, s*s)
		qrDrawFunctionPatterns(mods, fn, v)
		qrPlace(mods, fn, s, qrCodewords(content, v, level))
		got := qrMaskPenalties(mods, fn, s, level)
		for m := 0; m < 8; m++ {
			sym, err := qrEncode(content, level, m)
			if err != nil {
				t.Fatal(err)
			}
			if want := refPenalty(sym.mods, s); got[m] != want {
				t.Errorf("version %d mask %d scores %d, reference %d", v, m, got[m], want)
			}
		}
	}
}
