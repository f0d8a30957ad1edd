package printer

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"strings"
	"testing"
	"time"
)

// portraitFaces are faces that move every variable element about: all card types, short and
// overlong text (wrapped, shrunk, cut with an ellipsis), photos of every kind drawPhoto reads and
// shape it crops, and QR codes of different content.
func portraitFaces(t *testing.T) map[string]*Face {
	t.Helper()
	faces := map[string]*Face{}
	for _, ct := range []CardType{Construction, Cleaning, Transport} {
		faces[string(ct)] = SampleFace(ct)
	}
	short := SampleFace(Transport)
	short.GivenName, short.FamilyName, short.OrgName = "A", "B", "C"
	faces["short"] = short
	for i, n := range hardNames[:len(hardNames)-1] { // the last one Validate refuses
		f := SampleFace([]CardType{Construction, Cleaning, Transport}[i%3])
		f.GivenName, f.FamilyName = n.given, n.family
		faces["name "+n.name] = f
	}
	long := SampleFace(Cleaning)
	long.GivenName, long.FamilyName = hardNames[0].given, hardNames[0].family
	long.OrgName = string([]rune(strings.Repeat("Anleggsgartner Åsheim og Sønner ", 4))[:MaxOrgNameRunes-1]) + "Ø"
	long.CardNumber, long.OrgNumber = "9999999999", "999999999"
	long.Expiry = time.Date(2031, 2, 28, 0, 0, 0, 0, time.UTC)
	faces["long"] = long
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, SamplePortrait(600, 800), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	jp, err := DecodePhoto(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for name, photo := range map[string]image.Image{
		"photo jpeg":        jp,
		"photo fitted":      FitPhoto(SamplePortrait(600, 800)),
		"photo fitted jpeg": FitPhotoYCbCr(jp.(*image.YCbCr)),
		"photo wide":        SamplePortrait(900, 300),
		"photo small":       SamplePortrait(100, 120),
		"photo nrgba":       image.NewNRGBA(image.Rect(-3, -4, 400, 500)),
	} {
		f := SampleFace(Construction)
		f.Photo = photo
		faces[name] = f
	}
	return faces
}

// rasterLayouts are every sides and sheet-back RasterOptions.transform tells apart, and more.
func rasterLayouts() []RasterOptions {
	var opts []RasterOptions
	for _, sides := range []string{"", "one-sided", "two-sided-short-edge", "two-sided-long-edge"} {
		for _, sheetBack := range []string{"", "normal", "flipped", "rotated", "manual-tumble"} {
			opts = append(opts, RasterOptions{MediaName: CR80MediaName, Sides: sides, SheetBack: sheetBack})
		}
	}
	return opts
}

// TestPagesMatchFaces: the print document from RenderPagesInto and EncodePages is byte for byte
// the document EncodeRaster makes of Render's faces, for every face and page layout. It fails if
// an element draws outside its box (the page would miss those pixels), if the static layer or a
// box is turned wrongly, or if EncodePages lays or packs lines differently. The pages are reused
// from face to face, as a station does.
func TestPagesMatchFaces(t *testing.T) {
	r := testRenderer(t)
	pageFront, pageBack := NewPage(), NewPage()
	faces := portraitFaces(t)
	for name, f := range faces {
		if raceEnabled && name != string(f.CardType) && name != "long" {
			continue // the card types' own faces and the longest texts; all of them without -race
		}
		front, back, err := r.Render(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := r.RenderPagesInto(f, pageFront, pageBack); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Pixels first, which says where a difference is.
		for side, c := range map[string][2]*image.RGBA{"front": {front, pageFront}, "back": {back, pageBack}} {
			turned := NewPage()
			turnOnto(turned, c[0])
			if i := firstDifference(turned.Pix, c[1].Pix); i >= 0 {
				p := i / 4
				t.Errorf("%s %s: page pixel (%d, %d) differs: face pixel (%d, %d)", name, side, p%pageWidth, p/pageWidth, p/pageWidth, FaceHeight-1-p%pageWidth)
			}
		}
		// The layouts are the encoder's business, the same for every face: all of them on the
		// card types' own faces, two that mirror the back on the others.
		layouts := rasterLayouts()
		if f != faces[string(f.CardType)] || (raceEnabled && f.CardType != Construction) {
			layouts = []RasterOptions{{Sides: "two-sided-short-edge", SheetBack: "flipped"}, {Sides: "two-sided-long-edge"}}
		}
		for _, opts := range layouts {
			for _, pages := range []struct {
				faces, pages []*image.RGBA
			}{
				{[]*image.RGBA{front, back}, []*image.RGBA{pageFront, pageBack}},
				{[]*image.RGBA{front}, []*image.RGBA{pageFront}},
				{[]*image.RGBA{back, front, back}, []*image.RGBA{pageBack, pageFront, pageBack}},
			} {
				var want, got bytes.Buffer
				if err := EncodeRaster(&want, opts, pages.faces...); err != nil {
					t.Fatal(err)
				}
				if err := EncodePages(&got, opts, pages.pages...); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s, %d pages, sides %q, sheet-back %q: %d bytes, EncodeRaster %d; first difference at byte %d",
						name, len(pages.pages), opts.Sides, opts.SheetBack, got.Len(), want.Len(), firstDifference(got.Bytes(), want.Bytes()))
				}
			}
		}
	}
}

// firstDifference is the index of the first byte where a and b differ, -1 if none.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestElementsAreApart: each element's box lies on the face and no two of a side overlap, which
// drawing each on its own needs (see element).
func TestElementsAreApart(t *testing.T) {
	r := testRenderer(t)
	f := SampleFace(Construction)
	face := image.Rect(0, 0, FaceWidth, FaceHeight)
	for side, els := range map[string][]element{"front": r.frontElements(f), "back": r.backElements(f, nil)} {
		for i, a := range els {
			if !a.box.In(face) || a.box.Empty() {
				t.Errorf("%s element %d: box %v is not on the face", side, i, a.box)
			}
			for j, b := range els[:i] {
				if a.box.Overlaps(b.box) {
					t.Errorf("%s elements %d and %d overlap: %v, %v", side, j, i, b.box, a.box)
				}
			}
		}
	}
}

func TestRenderPagesIntoChecksPages(t *testing.T) {
	r := testRenderer(t)
	f := SampleFace(Cleaning)
	page := NewPage()
	big := image.NewRGBA(image.Rect(0, 0, pageWidth+1, pageHeight))
	for _, c := range []struct {
		name        string
		front, back *image.RGBA
	}{
		{"same page twice", page, page},
		{"a face", page, NewFace()},
		{"nil", nil, page},
		{"wider rows", big.SubImage(image.Rect(0, 0, pageWidth, pageHeight)).(*image.RGBA), page},
	} {
		if err := r.RenderPagesInto(f, c.front, c.back); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if err := EncodePages(&bytes.Buffer{}, RasterOptions{}, NewFace()); err == nil {
		t.Error("EncodePages took a landscape face")
	}
}

// TestCardDocumentFromPages: a job of pages makes the document a job of faces makes, one- and
// two-sided, and a job must give one pair or the other.
func TestCardDocumentFromPages(t *testing.T) {
	r := testRenderer(t)
	f := SampleFace(Cleaning)
	front, back, err := r.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	pageFront, pageBack := NewPage(), NewPage()
	if err := r.RenderPagesInto(f, pageFront, pageBack); err != nil {
		t.Fatal(err)
	}
	for _, sides := range [][]string{{"one-sided"}, {"one-sided", "two-sided-long-edge"}} {
		st := &PrinterStatus{MediaReady: []string{CR80MediaName}, DocumentFormats: []string{"image/pwg-raster"}, Sides: sides, SheetBack: "flipped"}
		for _, c := range []struct {
			name        string
			faces, page CardJob
		}{
			{"two faces", CardJob{Front: front, Back: back}, CardJob{FrontPage: pageFront, BackPage: pageBack}},
			{"front only", CardJob{Front: front}, CardJob{FrontPage: pageFront}},
		} {
			want, err := CardDocument(st, c.faces)
			if err != nil {
				t.Fatal(err)
			}
			got, err := CardDocument(st, c.page)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, want.Data) || got.Sides != want.Sides || got.Media != want.Media {
				t.Errorf("%v %s: the document from pages (%d bytes, %s) differs from that from faces (%d bytes, %s)",
					sides, c.name, len(got.Data), got.Sides, len(want.Data), want.Sides)
			}
		}
		for _, bad := range []CardJob{{Front: front, BackPage: pageBack}, {BackPage: pageBack}, {}} {
			if _, err := CardDocument(st, bad); err == nil {
				t.Errorf("%v: CardDocument took front %t, back %t, front page %t, back page %t",
					sides, bad.Front != nil, bad.Back != nil, bad.FrontPage != nil, bad.BackPage != nil)
			}
		}
	}
}

// A PagePool lends at most its number of pairs at once, each a distinct pair of pages, and lends
// a pair given back again rather than making one.
func TestPagePool(t *testing.T) {
	ctx := context.Background()
	p := NewPagePool(2)
	a, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.Front == a.Back || a.Front == b.Front || !isPage(a.Front) || !isPage(b.Back) {
		t.Fatalf("two loans share pages or are not pages")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(short); err == nil {
		t.Fatalf("a third pair lent while two are out")
	}
	got := make(chan *Pages)
	go func() { pg, _ := p.Get(ctx); got <- pg }()
	p.Put(a)
	if pg := <-got; pg != a {
		t.Errorf("the waiting worker got a new pair, not the one given back")
	}
}
