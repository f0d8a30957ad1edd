package printer

import (
	"bytes"
	"crypto/ed25519"
	"image"
	"image/jpeg"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"
)

func benchRenderer(b *testing.B) *Renderer {
	b.Helper()
	r, err := NewRenderer(Options{StatusBaseURL: "https://status.hms.example/k", SigningKey: ed25519.NewKeyFromSeed(make([]byte, 32))})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// cpuTime reports the process's CPU time per op next to the wall time, which on a machine
// shared with other work says more about the code than ns/op does.
func cpuTime(b *testing.B) func() {
	var start syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &start)
	return func() {
		var end syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &end)
		ns := func(r syscall.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
		b.ReportMetric(float64(ns(end)-ns(start))/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkCard is the whole cost of one card as a station renders card after card: render front
// and back into the station's two images (RenderInto) and PNG-encode both. The photo is already
// decoded; BenchmarkDecodePhotoJPEG is that cost, BenchmarkCardFromStoredJPEG the sum.
func BenchmarkCard(b *testing.B) {
	r := benchRenderer(b)
	f := SampleFace(Construction)
	front, back := NewFace(), NewFace()
	defer cpuTime(b)()
	var times []time.Duration
	defer func() {
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/op")
	}()
	for b.Loop() {
		t0 := time.Now()
		if err := r.RenderInto(f, front, back); err != nil {
			b.Fatal(err)
		}
		if err := EncodePNG(io.Discard, front); err != nil {
			b.Fatal(err)
		}
		if err := EncodePNG(io.Discard, back); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
}

// BenchmarkRender is Render, which allocates the two images each time.
func BenchmarkRender(b *testing.B) {
	r := benchRenderer(b)
	f := SampleFace(Construction)
	defer cpuTime(b)()
	for b.Loop() {
		if _, _, err := r.Render(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePNG(b *testing.B) {
	r := benchRenderer(b)
	front, _, _ := r.Render(SampleFace(Construction))
	var buf bytes.Buffer
	defer cpuTime(b)()
	for b.Loop() {
		buf.Reset()
		if err := EncodePNG(&buf, front); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/face")
}

func BenchmarkDecodePhotoJPEG(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, SamplePortrait(600, 800), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	defer cpuTime(b)()
	for b.Loop() {
		if _, err := DecodePhoto(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScalePhoto(b *testing.B) {
	photo := SamplePortrait(600, 800)
	img := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	defer cpuTime(b)()
	for b.Loop() {
		drawPhoto(img, newLayout().photo, photo)
	}
}

func BenchmarkQR(b *testing.B) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	img := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	expiry := SampleFace(Construction).Expiry
	defer cpuTime(b)()
	for b.Loop() {
		u, _ := StatusURL("https://status.hms.example/k", key, "1000000017", expiry)
		mods, err := QRModules(u)
		if err != nil {
			b.Fatal(err)
		}
		drawQR(img, newLayout().qr, mods)
	}
}

// BenchmarkQRModules is the QR encoder alone on a status URL (version 8-M): BenchmarkQR also
// signs the URL and draws the modules.
func BenchmarkQRModules(b *testing.B) {
	u, err := StatusURL("https://status.hms.example/k", ed25519.NewKeyFromSeed(make([]byte, 32)), "1000000017", SampleFace(Construction).Expiry)
	if err != nil {
		b.Fatal(err)
	}
	defer cpuTime(b)()
	for b.Loop() {
		if _, err := QRModules(u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScaleJPEGPhoto scales a decoded JPEG (YCbCr) photo, the usual case from the store.
func BenchmarkScaleJPEGPhoto(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, SamplePortrait(600, 800), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	photo, err := DecodePhoto(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	defer cpuTime(b)()
	for b.Loop() {
		drawPhoto(img, newLayout().photo, photo)
	}
}

// BenchmarkText is the per-card text: names, employer, numbers and dates on the front, the card
// number on the back.
func BenchmarkText(b *testing.B) {
	r := benchRenderer(b)
	f := SampleFace(Construction)
	img := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	defer cpuTime(b)()
	for b.Loop() {
		l := &r.lay
		l.family.draw(img, r.fs, f.FamilyName)
		l.given.draw(img, r.fs, f.GivenName)
		l.employer.draw(img, r.fs, f.OrgName)
		l.orgNumber.draw(img, r.fs, "Org.nr. "+groupOrgNumber(f.OrgNumber))
		l.backNumber.draw(img, r.fs, "Kortnr. "+f.CardNumber)
	}
}

// BenchmarkRaster is the print document: both sides as PWG Raster, from landscape faces (turned
// by the encoder) or from pages already upright.
func BenchmarkRaster(b *testing.B) {
	r := benchRenderer(b)
	front, back, err := r.Render(SampleFace(Construction))
	if err != nil {
		b.Fatal(err)
	}
	pageFront, pageBack := NewPage(), NewPage()
	if err := r.RenderPagesInto(SampleFace(Construction), pageFront, pageBack); err != nil {
		b.Fatal(err)
	}
	opts := RasterOptions{MediaName: CR80MediaName, Sides: "two-sided-short-edge"}
	for _, c := range []struct {
		name   string
		encode func(io.Writer) error
	}{
		{"faces", func(w io.Writer) error { return EncodeRaster(w, opts, front, back) }},
		{"pages", func(w io.Writer) error { return EncodePages(w, opts, pageFront, pageBack) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			defer cpuTime(b)()
			for b.Loop() {
				buf.Reset()
				if err := c.encode(&buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/card")
		})
	}
}

// BenchmarkCardFromStoredJPEG is a card from the photo as the store keeps it: decode the JPEG,
// then render and PNG-encode both faces. With a 600 × 800 photo the decoding costs about as much
// as the rest; with the print-ready copy from FitPhoto it nearly vanishes.
func BenchmarkCardFromStoredJPEG(b *testing.B) {
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"600x800", SamplePortrait(600, 800)}, {"fitted", FitPhoto(SamplePortrait(600, 800))}} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, c.img, &jpeg.Options{Quality: 90}); err != nil {
				b.Fatal(err)
			}
			r := benchRenderer(b)
			f := SampleFace(Construction)
			front, back := NewFace(), NewFace()
			defer cpuTime(b)()
			var times []time.Duration
			defer func() {
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/op")
			}()
			for b.Loop() {
				t0 := time.Now()
				photo, err := DecodePhoto(buf.Bytes())
				if err != nil {
					b.Fatal(err)
				}
				f.Photo = photo
				if err := r.RenderInto(f, front, back); err != nil {
					b.Fatal(err)
				}
				if err := EncodePNG(io.Discard, front); err != nil {
					b.Fatal(err)
				}
				if err := EncodePNG(io.Discard, back); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
			}
		})
	}
}

// BenchmarkCardDocument is what a station spends on a card's print document: render both sides
// and encode them as PWG Raster, card after card into the same images, as landscape faces turned
// by EncodeRaster ("faces") or as pages drawn upright by RenderPagesInto ("pages").
func BenchmarkCardDocument(b *testing.B) {
	opts := RasterOptions{MediaName: CR80MediaName, Sides: "two-sided-short-edge"}
	for _, c := range []struct {
		name   string
		newImg func() *image.RGBA
		render func(*Renderer, *Face, *image.RGBA, *image.RGBA) error
		encode func(io.Writer, RasterOptions, ...*image.RGBA) error
	}{
		{"faces", NewFace, (*Renderer).RenderInto, EncodeRaster},
		{"pages", NewPage, (*Renderer).RenderPagesInto, EncodePages},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := benchRenderer(b)
			f := SampleFace(Construction)
			front, back := c.newImg(), c.newImg()
			var buf bytes.Buffer
			defer cpuTime(b)()
			var times []time.Duration
			defer func() {
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/op")
			}()
			for b.Loop() {
				t0 := time.Now()
				if err := c.render(r, f, front, back); err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				if err := c.encode(&buf, opts, front, back); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
			}
		})
	}
}

// BenchmarkRenderInto is the render alone of BenchmarkCardDocument: both sides into reused
// images, as landscape faces or as print pages.
func BenchmarkRenderInto(b *testing.B) {
	for _, c := range []struct {
		name   string
		newImg func() *image.RGBA
		render func(*Renderer, *Face, *image.RGBA, *image.RGBA) error
	}{
		{"faces", NewFace, (*Renderer).RenderInto},
		{"pages", NewPage, (*Renderer).RenderPagesInto},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := benchRenderer(b)
			f := SampleFace(Construction)
			front, back := c.newImg(), c.newImg()
			defer cpuTime(b)()
			for b.Loop() {
				if err := c.render(r, f, front, back); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
