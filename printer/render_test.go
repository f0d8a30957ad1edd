package printer

import (
	"crypto/ed25519"
	"image"
	"testing"
)

var testSeed = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

const testBase = "https://status.hms.example/k"

func testRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := NewRenderer(Options{StatusBaseURL: testBase, SigningKey: ed25519.NewKeyFromSeed(testSeed[:])})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testFaces(t testing.TB, f *Face) (front, back *image.RGBA) {
	t.Helper()
	front, back, err := testRenderer(t).Render(f)
	if err != nil {
		t.Fatal(err)
	}
	return front, back
}
