package testsupport

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"testing"
)

// Golden compares got, a PNG rendering, with the golden file at path, and rewrites the file
// instead when update is set (a -update flag of the test). It fails the test when more than
// maxShare of the pixels differ clearly (some channel by more than delta of 255): renderers such
// as poppler anti-alias a little differently across versions, while a moved or missing element
// changes far more pixels than that.
func Golden(t testing.TB, path string, got []byte, update bool, delta int, maxShare float64) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to make it, then look at it)", err)
	}
	share, err := PixelDiff(got, want, delta)
	if err != nil {
		t.Fatal(err)
	}
	if share > maxShare {
		t.Errorf("rendering differs from %s in %.2f%% of pixels (look at both; -update if intended)", path, 100*share)
	}
}

// PixelDiff is the share of pixels of two PNGs that differ by more than delta in some channel;
// 1 when their sizes differ.
func PixelDiff(a, b []byte, delta int) (float64, error) {
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		return 0, err
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	if ia.Bounds() != ib.Bounds() {
		return 1, nil
	}
	r := ia.Bounds()
	differ := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if far(ia, ib, x, y, delta) {
				differ++
			}
		}
	}
	return float64(differ) / float64(r.Dx()*r.Dy()), nil
}

func far(a, b image.Image, x, y, delta int) bool {
	r1, g1, b1, _ := a.At(x, y).RGBA()
	r2, g2, b2, _ := b.At(x, y).RGBA()
	d := func(p, q uint32) bool { v := int(p>>8) - int(q>>8); return v > delta || v < -delta }
	return d(r1, r2) || d(g1, g2) || d(b1, b2)
}
