package printer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// decodeRaster is an independent reading of PWG Raster for the tests: it returns each page's
// header and its pixels (packed RGB, page orientation).
func decodeRaster(data []byte) (headers [][]byte, pages [][]byte, err error) {
	if !bytes.HasPrefix(data, []byte("RaS2")) {
		return nil, nil, fmt.Errorf("no RaS2 sync word")
	}
	data = data[4:]
	for len(data) > 0 {
		if len(data) < pwgHeaderSize {
			return nil, nil, fmt.Errorf("short header")
		}
		h := data[:pwgHeaderSize]
		data = data[pwgHeaderSize:]
		w := int(binary.BigEndian.Uint32(h[372:]))
		hgt := int(binary.BigEndian.Uint32(h[376:]))
		bpl := int(binary.BigEndian.Uint32(h[392:]))
		if bpl != 3*w || w <= 0 || hgt <= 0 || w*hgt > 1<<24 {
			return nil, nil, fmt.Errorf("bad geometry %d×%d, %d bytes per line", w, hgt, bpl)
		}
		page := make([]byte, 0, bpl*hgt)
		for y := 0; y < hgt; {
			if len(data) < 1 {
				return nil, nil, fmt.Errorf("truncated at line %d", y)
			}
			rep := int(data[0]) + 1
			data = data[1:]
			line := make([]byte, 0, bpl)
			for len(line) < bpl {
				if len(data) < 1 {
					return nil, nil, fmt.Errorf("truncated in line %d", y)
				}
				c := int(data[0])
				data = data[1:]
				switch {
				case c < 128:
					if len(data) < 3 {
						return nil, nil, fmt.Errorf("truncated run")
					}
					for k := 0; k <= c; k++ {
						line = append(line, data[:3]...)
					}
					data = data[3:]
				case c == 128:
					return nil, nil, fmt.Errorf("reserved code 128")
				default:
					n := 257 - c
					if len(data) < 3*n {
						return nil, nil, fmt.Errorf("truncated literal")
					}
					line = append(line, data[:3*n]...)
					data = data[3*n:]
				}
			}
			if len(line) != bpl {
				return nil, nil, fmt.Errorf("line %d overflows: %d bytes", y, len(line))
			}
			for k := 0; k < rep && y < hgt; k++ {
				page = append(page, line...)
				y++
			}
		}
		headers = append(headers, h)
		pages = append(pages, page)
	}
	return headers, pages, nil
}

// TestEncodeRasterRoundTrip decodes the document and checks the headers and where face pixels
// land on each page, for every combination of sides and sheet-back: the back must come out
// upright behind the front (the bank-card turn, see pwgraster.go) once the printer has fed it.
func TestEncodeRasterRoundTrip(t *testing.T) {
	front, back := testFaces(t, SampleFace(Transport))
	// page pixel (px, py) of face pixel (x, y), quarter turn clockwise, then mirrored as told.
	at := func(x, y int, mx, my bool) (int, int) {
		px, py := pageWidth-1-y, x
		if mx {
			px = pageWidth - 1 - px
		}
		if my {
			py = pageHeight - 1 - py
		}
		return px, py
	}
	for _, c := range []struct {
		sides, sheetBack string
		mx, my           bool // the back page's mirroring
		cross, feed      int32
		duplex, tumble   uint32
	}{
		{"one-sided", "", false, false, 1, 1, 0, 0},
		{"two-sided-short-edge", "normal", false, false, 1, 1, 1, 1},
		{"two-sided-short-edge", "flipped", true, false, -1, 1, 1, 1},
		{"two-sided-short-edge", "manual-tumble", true, true, -1, -1, 1, 1},
		{"two-sided-short-edge", "rotated", false, false, 1, 1, 1, 1},
		{"two-sided-long-edge", "normal", true, true, 1, 1, 1, 0},
		{"two-sided-long-edge", "flipped", true, false, 1, -1, 1, 0},
		{"two-sided-long-edge", "rotated", false, false, -1, -1, 1, 0},
		{"two-sided-long-edge", "manual-tumble", true, true, 1, 1, 1, 0},
	} {
		t.Run(c.sides+"/"+c.sheetBack, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeRaster(&buf, RasterOptions{MediaName: "om_cr80_53.98x85.6mm", Sides: c.sides, SheetBack: c.sheetBack}, front, back); err != nil {
				t.Fatal(err)
			}
			if buf.Len() > 3*FaceWidth*FaceHeight { // both pages uncompressed would be 2× this
				t.Errorf("raster is %d bytes: run-length coding is not working", buf.Len())
			}
			hs, pages, err := decodeRaster(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != 2 {
				t.Fatalf("%d pages, want 2", len(pages))
			}
			for i, face := range []*image.RGBA{front, back} {
				h := hs[i]
				u := func(off int) uint32 { return binary.BigEndian.Uint32(h[off:]) }
				if u(372) != 638 || u(376) != 1011 || u(276) != 300 || u(400) != 19 || u(452) != 2 || u(352) != 153 || u(356) != 243 {
					t.Errorf("page %d header: width %d height %d dpi %d colour space %d pages %d size %d×%d pt", i+1, u(372), u(376), u(276), u(400), u(452), u(352), u(356))
				}
				if got := string(bytes.TrimRight(h[1732:1796], "\x00")); got != "om_cr80_53.98x85.6mm" {
					t.Errorf("page %d PageSizeName %q", i+1, got)
				}
				cross, feed := int32(1), int32(1)
				mx, my := false, false
				if i == 1 {
					cross, feed, mx, my = c.cross, c.feed, c.mx, c.my
				}
				if u(272) != c.duplex || u(368) != c.tumble || int32(u(456)) != cross || int32(u(460)) != feed {
					t.Errorf("page %d: Duplex %d Tumble %d CrossFeed %d Feed %d", i+1, u(272), u(368), int32(u(456)), int32(u(460)))
				}
				for _, p := range []image.Point{{0, 0}, {1010, 0}, {0, 637}, {1010, 637}, {500, 300}, {123, 456}, {1009, 1}} {
					c := face.RGBAAt(p.X, p.Y)
					px, py := at(p.X, p.Y, mx, my)
					o := 3 * (py*pageWidth + px)
					if got := pages[i][o : o+3]; got[0] != c.R || got[1] != c.G || got[2] != c.B {
						t.Errorf("page %d: face pixel %v is %v at page (%d,%d), want %v", i+1, p, got, px, py, c)
					}
				}
				// Every pixel, not just the probes.
				for y := 0; y < FaceHeight; y += 7 {
					for x := 0; x < FaceWidth; x++ {
						c := face.RGBAAt(x, y)
						px, py := at(x, y, mx, my)
						o := 3 * (py*pageWidth + px)
						if got := pages[i][o : o+3]; got[0] != c.R || got[1] != c.G || got[2] != c.B {
							t.Fatalf("page %d: face pixel (%d,%d) misplaced", i+1, x, y)
						}
					}
				}
			}
		})
	}
}

// FuzzPackLine checks that any line survives PWG's run-length code.
func FuzzPackLine(f *testing.F) {
	f.Add([]byte{1, 2, 3}, uint8(0))
	f.Add(bytes.Repeat([]byte{9, 9, 9}, 300), uint8(3))
	f.Add([]byte("abcabcabcxyzxyzqqqqqqrstrst"), uint8(7))
	f.Fuzz(func(t *testing.T, seed []byte, mode uint8) {
		n := 1 + len(seed)%400
		line := make([]byte, 3*n)
		rng := rand.New(rand.NewPCG(uint64(len(seed)), uint64(mode)))
		for i := 0; i < n; i++ {
			if i > 0 && rng.IntN(8) < int(mode%8) { // runs, as often as mode says
				copy(line[3*i:], line[3*i-3:3*i])
				continue
			}
			for k := 0; k < 3; k++ {
				if len(seed) > 0 {
					line[3*i+k] = seed[(3*i+k)%len(seed)]
				}
			}
		}
		packed := append([]byte{0}, packLine(nil, line)...)
		h := pwgHeader(RasterOptions{}, 1, pageTransform{cross: 1, feed: 1})
		binary.BigEndian.PutUint32(h[372:], uint32(n))
		binary.BigEndian.PutUint32(h[376:], 1)
		binary.BigEndian.PutUint32(h[392:], uint32(3*n))
		doc := append(append([]byte("RaS2"), h...), packed...)
		_, pages, err := decodeRaster(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pages[0], line) {
			t.Fatalf("line changed:\n got %v\nwant %v", pages[0], line)
		}
	})
}

// referenceRaster is the plainest encoding of the same document: each page built pixel by pixel
// from the face, equal lines counted, each line packed by comparing 3-byte pixels.
func referenceRaster(opts RasterOptions, faces ...*image.RGBA) []byte {
	doc := []byte("RaS2")
	for i, face := range faces {
		tf := opts.transform(i)
		doc = append(doc, pwgHeader(opts, len(faces), tf)...)
		lines := make([][]byte, pageHeight)
		for py := range lines {
			line := make([]byte, 0, 3*pageWidth)
			for px := range pageWidth {
				x, y := py, pageWidth-1-px
				if tf.mirrorY {
					x = pageHeight - 1 - py
				}
				if tf.mirrorX {
					y = px
				}
				c := face.RGBAAt(face.Rect.Min.X+x, face.Rect.Min.Y+y)
				line = append(line, c.R, c.G, c.B)
			}
			lines[py] = line
		}
		for y := 0; y < pageHeight; {
			rep := 1
			for y+rep < pageHeight && rep < 256 && bytes.Equal(lines[y+rep], lines[y]) {
				rep++
			}
			doc = append(doc, byte(rep-1))
			doc = referencePack(doc, lines[y])
			y += rep
		}
	}
	return doc
}

// referencePack is PWG's run-length code as packLine documents it, taken greedily: a run wherever
// the next pixel repeats, else literals up to the next pair of equal pixels, at most 128 a piece.
func referencePack(dst, line []byte) []byte {
	n := len(line) / 3
	px := func(i int) []byte { return line[3*i : 3*i+3] }
	for i := 0; i < n; {
		run := 1
		for i+run < n && run < 128 && bytes.Equal(px(i+run), px(i)) {
			run++
		}
		if run > 1 || i+run == n {
			dst = append(dst, byte(run-1))
			dst = append(dst, px(i)...)
			i += run
			continue
		}
		lit := 1
		for i+lit < n && lit < 128 && (i+lit+1 == n || !bytes.Equal(px(i+lit), px(i+lit+1))) {
			lit++
		}
		if lit == 1 {
			dst = append(dst, 0)
		} else {
			dst = append(dst, byte(257-lit))
		}
		dst = append(dst, line[3*i:3*(i+lit)]...)
		i += lit
	}
	return dst
}

// TestEncodeRasterMatchesReference checks EncodeRaster byte for byte against referenceRaster for
// every sides and sheet-back, on faces that stress each part of the code: rendered cards; noise
// (literals everywhere) whose alpha, which the page does not carry, varies; flat areas with
// long runs and more than 256 equal lines; faces that are sub-images of a larger picture; and
// one or three pages.
func TestEncodeRasterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	front, back := testFaces(t, SampleFace(Construction))
	noise := NewFace()
	for i := range noise.Pix {
		noise.Pix[i] = byte(rng.IntN(256))
	}
	blocks := NewFace() // flat rectangles; the left 300 columns all white, then stripes and short runs
	for i := range blocks.Pix {
		blocks.Pix[i] = 0xff
	}
	for range 40 {
		r := image.Rect(300+rng.IntN(700), rng.IntN(630), 300+rng.IntN(711), rng.IntN(638)).Canon()
		c := [4]byte{byte(rng.IntN(4)) * 60, byte(rng.IntN(4)) * 60, byte(rng.IntN(4)) * 60, byte(rng.IntN(256))}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				copy(blocks.Pix[blocks.PixOffset(x, y):], c[:])
			}
		}
	}
	for y := 0; y < FaceHeight; y += 3 { // pairs and singles: literal runs of one pixel
		for x := 900; x < FaceWidth; x++ {
			blocks.Pix[blocks.PixOffset(x, y)] = byte(x / 2)
		}
	}
	big := image.NewRGBA(image.Rect(-7, -5, FaceWidth+20, FaceHeight+9))
	for i := range big.Pix {
		big.Pix[i] = byte(rng.IntN(3) * 100)
	}
	sub := big.SubImage(image.Rect(3, 2, 3+FaceWidth, 2+FaceHeight)).(*image.RGBA)
	for _, sides := range []string{"one-sided", "two-sided-short-edge", "two-sided-long-edge"} {
		for _, sheetBack := range []string{"normal", "flipped", "rotated", "manual-tumble"} {
			opts := RasterOptions{MediaName: CR80MediaName, Sides: sides, SheetBack: sheetBack}
			for _, c := range []struct {
				name  string
				faces []*image.RGBA
			}{
				{"card", []*image.RGBA{front, back}},
				{"noise", []*image.RGBA{noise, blocks}},
				{"blocks", []*image.RGBA{blocks, sub}},
				{"one page", []*image.RGBA{back}},
				{"three pages", []*image.RGBA{sub, noise, front}},
			} {
				var got bytes.Buffer
				if err := EncodeRaster(&got, opts, c.faces...); err != nil {
					t.Fatal(err)
				}
				if want := referenceRaster(opts, c.faces...); !bytes.Equal(got.Bytes(), want) {
					i := 0
					for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
						i++
					}
					t.Errorf("%s/%s %s: %d bytes, reference %d; first difference at byte %d", sides, sheetBack, c.name, got.Len(), len(want), i)
				}
			}
		}
	}
}
