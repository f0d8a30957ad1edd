package jpeg_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"cardline/internal/jpeg"
	"cardline/internal/testsupport"
)

// scene is a photo-like test image: shaded background, a head, hard edges and a little noise,
// kept away from black and white so that no block's pixels are clamped.
func scene(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := range h {
		for x := range w {
			r := 60 + 120*float64(y)/float64(h)
			g := 80 + 60*math.Sin(float64(x)/37)
			b := 170 - 80*float64(x)/float64(w)
			dx, dy := float64(x-w/2)/float64(w/4), float64(y-h*2/5)/float64(h/4)
			if dx*dx+dy*dy < 1 {
				r, g, b = 200, 160, 130
			}
			n := float64(rng.IntN(9)) - 4
			img.SetRGBA(x, y, color.RGBA{uint8(r + n), uint8(g + n), uint8(b + n), 255})
		}
	}
	return img
}

// cjpeg encodes img with libjpeg-turbo's cjpeg and the given options.
func cjpeg(t *testing.T, img *image.RGBA, opts ...string) []byte {
	t.Helper()
	bin := testsupport.Need(t, "cjpeg")
	b := img.Bounds()
	var ppm bytes.Buffer
	fmt.Fprintf(&ppm, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for i := 0; i < len(img.Pix); i += 4 {
		ppm.Write(img.Pix[i : i+3])
	}
	in := filepath.Join(t.TempDir(), "in.ppm")
	if err := os.WriteFile(in, ppm.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append(opts, in)...).Output()
	if err != nil {
		t.Fatalf("cjpeg %v: %v", opts, err)
	}
	return out
}

// blockMeans is the mean of each whole 8 × 8 block of a plane.
func blockMeans(pix []byte, stride, w, h int) [][]float64 {
	out := make([][]float64, h/8)
	for by := range h / 8 {
		out[by] = make([]float64, w/8)
		for bx := range w / 8 {
			sum := 0
			for y := range 8 {
				for x := range 8 {
					sum += int(pix[(by*8+y)*stride+bx*8+x])
				}
			}
			out[by][bx] = float64(sum) / 64
		}
	}
	return out
}

// The reduced decode is the full decode's 8 × 8 block means, plane by plane, for every sampling
// the line meets, with restart markers, optimised Huffman tables and gray; what it does not read
// it says so, for the caller to decode in full.
func TestDecodeReducedIsTheBlockMeans(t *testing.T) {
	img := scene(403, 517) // neither a multiple of 8 nor of 16
	var std bytes.Buffer
	if err := stdjpeg.Encode(&std, img, &stdjpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	var enc jpeg.Encoder
	ours, err := enc.Append(nil, img, 85)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"image/jpeg 4:2:0", std.Bytes()},
		{"ours 4:2:0", ours},
		{"cjpeg 4:4:4", cjpeg(t, img, "-sample", "1x1")},
		{"cjpeg 4:2:2", cjpeg(t, img, "-sample", "2x1")},
		{"cjpeg 4:4:0", cjpeg(t, img, "-sample", "1x2")},
		{"cjpeg 4:2:0, restart every 3 MCUs, optimised tables", cjpeg(t, img, "-sample", "2x2", "-restart", "3B", "-optimize")},
		{"cjpeg gray, restart every row", cjpeg(t, img, "-grayscale", "-restart", "1")},
		{"cjpeg quality 100", cjpeg(t, img, "-quality", "100")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full, err := stdjpeg.Decode(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			got, err := jpeg.DecodeReduced(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			type plane struct {
				name             string
				full, reduced    []byte
				fstride, rstride int
				fw, fh           int
			}
			var planes []plane
			switch f := full.(type) {
			case *image.YCbCr:
				r, ok := got.(*image.YCbCr)
				if !ok || r.SubsampleRatio != f.SubsampleRatio {
					t.Fatalf("reduced %T, full %v", got, f.SubsampleRatio)
				}
				cw, ch := f.Rect.Dx(), f.Rect.Dy()
				switch f.SubsampleRatio {
				case image.YCbCrSubsampleRatio420:
					cw, ch = (cw+1)/2, (ch+1)/2
				case image.YCbCrSubsampleRatio422:
					cw = (cw + 1) / 2
				case image.YCbCrSubsampleRatio440:
					ch = (ch + 1) / 2
				}
				planes = []plane{{"Y", f.Y, r.Y, f.YStride, r.YStride, f.Rect.Dx(), f.Rect.Dy()},
					{"Cb", f.Cb, r.Cb, f.CStride, r.CStride, cw, ch}, {"Cr", f.Cr, r.Cr, f.CStride, r.CStride, cw, ch}}
			case *image.Gray:
				r, ok := got.(*image.Gray)
				if !ok {
					t.Fatalf("reduced %T of a gray JPEG", got)
				}
				planes = []plane{{"gray", f.Pix, r.Pix, f.Stride, r.Stride, f.Rect.Dx(), f.Rect.Dy()}}
			default:
				t.Fatalf("full decode %T", full)
			}
			if b := got.Bounds(); b.Dx() != (403+7)/8 || b.Dy() != (517+7)/8 {
				t.Errorf("reduced to %v, want 51×65", b)
			}
			for _, p := range planes {
				worst := 0.0
				for by, row := range blockMeans(p.full, p.fstride, p.fw, p.fh) {
					for bx, mean := range row {
						worst = max(worst, math.Abs(mean-float64(p.reduced[by*p.rstride+bx])))
					}
				}
				// The DC is the mean of the inverse DCT's exact output; the full decode rounds
				// each pixel (and its integer IDCT errs by a little more).
				if worst > 1 {
					t.Errorf("plane %s: a block's mean is %.2f off", p.name, worst)
				}
			}
		})
	}
	progressive := cjpeg(t, img, "-progressive")
	if _, err := jpeg.DecodeReduced(progressive); !errors.Is(err, jpeg.ErrUnsupported) {
		t.Errorf("progressive JPEG: %v, want ErrUnsupported", err)
	}
	for name, data := range map[string][]byte{"truncated": ours[:len(ours)/2], "no SOI": ours[2:], "empty": nil} {
		if _, err := jpeg.DecodeReduced(data); err == nil || errors.Is(err, jpeg.ErrUnsupported) {
			t.Errorf("%s: %v, want an error", name, err)
		}
	}
}

// FuzzDecodeReduced: no input makes the decoder panic, and what it decodes has the size its
// header says, reduced.
func FuzzDecodeReduced(f *testing.F) {
	var enc jpeg.Encoder
	for _, size := range []int{8, 17, 40} {
		b, err := enc.Append(nil, scene(size, size+5), 75)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := jpeg.DecodeReduced(data)
		if err != nil {
			return
		}
		cfg, cerr := stdjpeg.DecodeConfig(bytes.NewReader(data))
		if cerr == nil && (img.Bounds().Dx() != (cfg.Width+7)/8 || img.Bounds().Dy() != (cfg.Height+7)/8) {
			t.Errorf("reduced %v of a %d×%d JPEG", img.Bounds(), cfg.Width, cfg.Height)
		}
	})
}
