package printer

import (
	"bytes"
	"crypto/ed25519"
	"image"
	"image/jpeg"
	"io"
	"testing"
)

func benchRenderer(b *testing.B) *Renderer {
	b.Helper()
	r, err := NewRenderer(Options{StatusBaseURL: "https://status.hms.example/k", SigningKey: ed25519.NewKeyFromSeed(make([]byte, 32))})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkCard is the whole cost of one card: render front and back and PNG-encode both.
func BenchmarkCard(b *testing.B) {
	r := benchRenderer(b)
	f := SampleFace(Construction)
	for b.Loop() {
		front, back, err := r.Render(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := EncodePNG(io.Discard, front); err != nil {
			b.Fatal(err)
		}
		if err := EncodePNG(io.Discard, back); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	r := benchRenderer(b)
	f := SampleFace(Construction)
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
	for b.Loop() {
		if _, err := DecodePhoto(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScalePhoto(b *testing.B) {
	photo := SamplePortrait(600, 800)
	img := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	for b.Loop() {
		drawPhoto(img, photoBox, photo)
	}
}

func BenchmarkQR(b *testing.B) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	img := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	for b.Loop() {
		u, _ := StatusURL("https://status.hms.example/k", key, "1000000017", SampleFace(Construction).Expiry)
		mods, err := QRModules(u)
		if err != nil {
			b.Fatal(err)
		}
		drawQR(img, qrBox, mods)
	}
}
