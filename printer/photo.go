package printer

import (
	"image"
	"image/color"
	"image/draw"
)

// drawPhoto crops the photo to the box's aspect (cutting the sides of a wide photo, or the top and
// bottom of a tall one, keeping more of the top, where a portrait's face is) and scales the crop
// into the box: never stretched.
func drawPhoto(img *image.RGBA, box image.Rectangle, photo image.Image) {
	sb := photo.Bounds()
	bw, bh := box.Dx(), box.Dy()
	cw, ch := sb.Dx(), sb.Dy()
	if cw*bh > ch*bw {
		cw = ch * bw / bh
	} else {
		ch = cw * bh / bw
	}
	x0 := sb.Min.X + (sb.Dx()-cw)/2
	y0 := sb.Min.Y + (sb.Dy()-ch)*2/5
	scaleArea(img, box, photo, image.Rect(x0, y0, x0+cw, y0+ch))
}

// scaleArea draws the source rectangle sr into dr, each destination pixel the mean of the source
// pixels under it (a box filter): sharp and alias-free when shrinking a stored photo to the
// photo box, the only direction that matters here (intake keeps photos at least box-sized; a
// smaller one is enlarged by repeating pixels). It reads JPEG's YCbCr and RGBA directly and is
// several times faster than x/image/draw's kernels, which cost more than the rest of a card.
func scaleArea(dst *image.RGBA, dr image.Rectangle, src image.Image, sr image.Rectangle) {
	dr = dr.Intersect(dst.Bounds())
	sr = sr.Intersect(src.Bounds())
	if dr.Empty() || sr.Empty() {
		return
	}
	if s, ok := src.(*image.RGBA); ok && sr.Size() == dr.Size() { // a fitted photo: copy it
		for y := 0; y < dr.Dy(); y++ {
			d := dst.Pix[dst.PixOffset(dr.Min.X, dr.Min.Y+y):][:4*dr.Dx()]
			copy(d, s.Pix[s.PixOffset(sr.Min.X, sr.Min.Y+y):][:4*dr.Dx()])
			for i := 3; i < len(d); i += 4 {
				d[i] = 0xff
			}
		}
		return
	}
	x0, x1 := spans(sr.Min.X, sr.Dx(), dr.Dx())
	y0, y1 := spans(sr.Min.Y, sr.Dy(), dr.Dy())
	dw := dr.Dx()
	acc := make([]int, 3*dw)
	cnt := make([]int, dw)
	switch s := src.(type) {
	case *image.YCbCr:
		// Average Y, Cb and Cr (the colour conversion is affine, so averaging before it is the
		// same as after), reading the chroma planes at their subsampling.
		hs, vs := chromaShift(s.SubsampleRatio)
		for j := 0; j < dr.Dy(); j++ {
			clear(acc)
			clear(cnt)
			for y := y0[j]; y < y1[j]; y++ {
				yrow := s.Y[(y-s.Rect.Min.Y)*s.YStride:] // yrow[x-Min.X] is pixel x
				crow := (y>>vs - s.Rect.Min.Y>>vs) * s.CStride
				cx0 := s.Rect.Min.X >> hs
				for i := 0; i < dw; i++ {
					a := acc[3*i : 3*i+3]
					for x := x0[i]; x < x1[i]; x++ {
						a[0] += int(yrow[x-s.Rect.Min.X])
						c := crow + x>>hs - cx0
						a[1] += int(s.Cb[c])
						a[2] += int(s.Cr[c])
					}
					cnt[i] += x1[i] - x0[i]
				}
			}
			out := dst.Pix[dst.PixOffset(dr.Min.X, dr.Min.Y+j):]
			for i := 0; i < dw; i++ {
				n := cnt[i]
				r, g, b := color.YCbCrToRGB(uint8(acc[3*i]/n), uint8(acc[3*i+1]/n), uint8(acc[3*i+2]/n))
				out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = r, g, b, 0xff
			}
		}
	case *image.RGBA:
		for j := 0; j < dr.Dy(); j++ {
			clear(acc)
			clear(cnt)
			for y := y0[j]; y < y1[j]; y++ {
				row := s.Pix[(y-s.Rect.Min.Y)*s.Stride:] // row[4*(x-Min.X)] is pixel x
				for i := 0; i < dw; i++ {
					a := acc[3*i : 3*i+3]
					px := row[4*(x0[i]-s.Rect.Min.X) : 4*(x1[i]-s.Rect.Min.X)]
					for k := 0; k+3 < len(px); k += 4 {
						a[0] += int(px[k])
						a[1] += int(px[k+1])
						a[2] += int(px[k+2])
					}
					cnt[i] += x1[i] - x0[i]
				}
			}
			out := dst.Pix[dst.PixOffset(dr.Min.X, dr.Min.Y+j):]
			for i := 0; i < dw; i++ {
				n := cnt[i]
				out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = uint8(acc[3*i]/n), uint8(acc[3*i+1]/n), uint8(acc[3*i+2]/n), 0xff
			}
		}
	default:
		// Anything else (NRGBA from a PNG, grey …) is converted once, over white, then scaled.
		tmp := image.NewRGBA(sr)
		draw.Draw(tmp, sr, image.NewUniform(color.White), image.Point{}, draw.Src)
		draw.Draw(tmp, sr, src, sr.Min, draw.Over)
		scaleArea(dst, dr, tmp, sr)
	}
}

// spans maps each of d destination pixels to the source pixels [lo, hi) under it, out of n
// source pixels starting at off. Every range holds at least one pixel.
func spans(off, n, d int) (lo, hi []int) {
	lo, hi = make([]int, d), make([]int, d)
	for i := range d {
		lo[i] = off + i*n/d
		hi[i] = max(off+(i+1)*n/d, lo[i]+1)
	}
	return lo, hi
}

// chromaShift gives how many bits x and y are shifted to index the chroma planes.
func chromaShift(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

// PhotoSize is the photo box on the front in pixels: 22 × 28 mm at 300 dpi.
func PhotoSize() image.Point { return photoBox.Size() }

// FitPhoto crops and scales a portrait to exactly the photo box, as the front prints it. A store
// that keeps this print-ready copy (as PNG or JPEG) saves every print the decoding of a large
// photo, which costs more than the rest of the card: see BenchmarkCardFromStoredJPEG.
func FitPhoto(photo image.Image) *image.RGBA {
	img := image.NewRGBA(image.Rectangle{Max: PhotoSize()})
	drawPhoto(img, img.Rect, photo)
	return img
}
