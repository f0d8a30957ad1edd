package printer

import (
	"encoding/binary"
	"image"
	"image/color"
	"image/draw"
)

// drawPhoto crops the photo to the box's aspect (cutting the sides of a wide photo, or the top and
// bottom of a tall one, keeping more of the top, where a portrait's face is) and scales the crop
// into the box: never stretched.
func drawPhoto(img *image.RGBA, box image.Rectangle, photo image.Image) {
	scaleArea(img, box, photo, photoCrop(photo.Bounds(), box))
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
	if s, ok := src.(*image.YCbCr); ok && sr.Size() == dr.Size() {
		// A fitted photo as the store keeps it (JPEG): image/draw converts it straight.
		draw.Draw(dst, dr, s, sr.Min, draw.Src)
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
	// Two passes per destination row: sum the source rows under it column by column, then sum
	// those sums across each destination pixel's columns. The first pass is a plain loop over
	// bytes; the second touches each source column once.
	dw, sw := dr.Dx(), sr.Dx()
	if sr.Dy() > 250*dr.Dy() { // column sums hold at most 257 rows: shrink in two steps
		mid := image.NewRGBA(image.Rect(0, 0, sw, sr.Dy()/200+1))
		scaleArea(mid, mid.Rect, src, sr)
		scaleArea(dst, dr, mid, mid.Rect)
		return
	}
	// Means by multiplying with a reciprocal: exact for these sums (at most 255·n, far below
	// 2³²/n), and cheaper than three divisions a pixel.
	maxRows, maxCols := 1, 1
	for j := range y0 {
		maxRows = max(maxRows, y1[j]-y0[j])
	}
	for i := range x0 {
		maxCols = max(maxCols, x1[i]-x0[i])
	}
	recip := make([]uint64, maxRows*maxCols+1)
	for n := 1; n < len(recip); n++ {
		recip[n] = (1<<32 + uint64(n) - 1) / uint64(n)
	}
	mean := func(sum, n uint32) uint8 { return uint8(uint64(sum) * recip[n] >> 32) }
	switch s := src.(type) {
	case *image.YCbCr:
		// Average Y, Cb and Cr (the colour conversion is affine, so averaging before it is the
		// same as after), reading the chroma planes at their subsampling: each luma pixel brings
		// the chroma sample it shares.
		hs, vs := chromaShift(s.SubsampleRatio)
		cx0 := sr.Min.X>>hs - s.Rect.Min.X>>hs
		cw := (sr.Max.X-1)>>hs - sr.Min.X>>hs + 1
		accY := make([]uint32, sw)
		accCb, accCr := make([]uint32, cw), make([]uint32, cw)
		sumY, sumCb, sumCr := newColumnSums(sw), newColumnSums(cw), newColumnSums(cw)
		for j := 0; j < dr.Dy(); j++ {
			sumY.reset()
			sumCb.reset()
			sumCr.reset()
			for y := y0[j]; y < y1[j]; y++ {
				sumY.add(s.Y[(y-s.Rect.Min.Y)*s.YStride+sr.Min.X-s.Rect.Min.X:][:sw])
				co := (y>>vs-s.Rect.Min.Y>>vs)*s.CStride + cx0
				sumCb.add(s.Cb[co : co+cw])
				sumCr.add(s.Cr[co : co+cw])
			}
			sumY.unpack(accY)
			sumCb.unpack(accCb)
			sumCr.unpack(accCr)
			out := dst.Pix[dst.PixOffset(dr.Min.X, dr.Min.Y+j):]
			rows := uint32(y1[j] - y0[j])
			for i := 0; i < dw; i++ {
				var sy, scb, scr uint32
				for x := x0[i]; x < x1[i]; x++ {
					sy += accY[x-sr.Min.X]
					c := x>>hs - sr.Min.X>>hs
					scb += accCb[c]
					scr += accCr[c]
				}
				n := rows * uint32(x1[i]-x0[i])
				r, g, b := color.YCbCrToRGB(mean(sy, n), mean(scb, n), mean(scr, n))
				out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = r, g, b, 0xff
			}
		}
	case *image.RGBA:
		sums := newColumnSums(4 * sw)
		acc := make([]uint32, 4*sw)
		for j := 0; j < dr.Dy(); j++ {
			sums.reset()
			for y := y0[j]; y < y1[j]; y++ {
				sums.add(s.Pix[s.PixOffset(sr.Min.X, y):][:4*sw])
			}
			sums.unpack(acc)
			out := dst.Pix[dst.PixOffset(dr.Min.X, dr.Min.Y+j):]
			rows := uint32(y1[j] - y0[j])
			for i := 0; i < dw; i++ {
				var r, g, b uint32
				px := acc[4*(x0[i]-sr.Min.X) : 4*(x1[i]-sr.Min.X)]
				for k := 0; k+3 < len(px); k += 4 {
					r += px[k]
					g += px[k+1]
					b += px[k+2]
				}
				n := rows * uint32(x1[i]-x0[i])
				out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = mean(r, n), mean(g, n), mean(b, n), 0xff
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
func PhotoSize() image.Point { return newLayout().photo.Size() }

// FitPhoto crops and scales a portrait to exactly the photo box, as the front prints it. A store
// that keeps this print-ready copy (as PNG or JPEG) saves every print the decoding of a large
// photo, which costs more than the rest of the card: see BenchmarkCardFromStoredJPEG.
func FitPhoto(photo image.Image) *image.RGBA {
	img := image.NewRGBA(image.Rectangle{Max: PhotoSize()})
	drawPhoto(img, img.Rect, photo)
	return img
}

// FitPhotoYCbCr is FitPhoto for a decoded JPEG, done in its own colour space: each plane (luma
// and the two chroma planes at 4:2:0) is cropped and box-filtered on its own, with no colour
// conversion. The result goes to the JPEG encoder as it is (internal/jpeg takes 4:2:0 planes
// without converting), which makes storing an upload's print-ready copy several times cheaper.
func FitPhotoYCbCr(photo *image.YCbCr) *image.YCbCr {
	box := PhotoSize()
	out := image.NewYCbCr(image.Rectangle{Max: box}, image.YCbCrSubsampleRatio420)
	crop := photoCrop(photo.Rect, image.Rectangle{Max: box})
	scalePlane(out.Y, out.YStride, box.X, box.Y, photo.Y, photo.YStride,
		image.Rect(crop.Min.X-photo.Rect.Min.X, crop.Min.Y-photo.Rect.Min.Y, crop.Max.X-photo.Rect.Min.X, crop.Max.Y-photo.Rect.Min.Y))
	hs, vs := chromaShift(photo.SubsampleRatio)
	// The crop in the source's chroma plane, and the output's chroma plane size (4:2:0).
	cc := image.Rect(crop.Min.X>>hs-photo.Rect.Min.X>>hs, crop.Min.Y>>vs-photo.Rect.Min.Y>>vs,
		(crop.Max.X-1)>>hs-photo.Rect.Min.X>>hs+1, (crop.Max.Y-1)>>vs-photo.Rect.Min.Y>>vs+1)
	cw, ch := (box.X+1)/2, (box.Y+1)/2
	scalePlane(out.Cb, out.CStride, cw, ch, photo.Cb, photo.CStride, cc)
	scalePlane(out.Cr, out.CStride, cw, ch, photo.Cr, photo.CStride, cc)
	return out
}

// photoCrop is the part of a photo with bounds sb that fills box: the box's aspect, centred
// across, two fifths down (more forehead than chin is cut).
func photoCrop(sb, box image.Rectangle) image.Rectangle {
	bw, bh := box.Dx(), box.Dy()
	cw, ch := sb.Dx(), sb.Dy()
	if cw*bh > ch*bw {
		cw = ch * bw / bh
	} else {
		ch = cw * bh / bw
	}
	x0 := sb.Min.X + (sb.Dx()-cw)/2
	y0 := sb.Min.Y + (sb.Dy()-ch)*2/5
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// scalePlane box-filters the rectangle sr of one 8-bit plane (offsets within src) to dw × dh
// pixels of dst, each the mean of the source pixels under it.
func scalePlane(dst []byte, dstStride, dw, dh int, src []byte, srcStride int, sr image.Rectangle) {
	sw := sr.Dx()
	if sw <= 0 || sr.Dy() <= 0 || dw <= 0 || dh <= 0 {
		return
	}
	if sr.Dy() > 250*dh { // column sums hold at most 257 rows: shrink in two steps
		mh := sr.Dy()/200 + 1
		mid := make([]byte, sw*mh)
		scalePlane(mid, sw, sw, mh, src, srcStride, sr)
		scalePlane(dst, dstStride, dw, dh, mid, sw, image.Rect(0, 0, sw, mh))
		return
	}
	x0, x1 := spans(0, sw, dw)
	y0, y1 := spans(sr.Min.Y, sr.Dy(), dh)
	sums := newColumnSums(sw)
	acc := make([]uint32, sw)
	for j := range dh {
		sums.reset()
		for y := y0[j]; y < y1[j]; y++ {
			sums.add(src[y*srcStride+sr.Min.X:][:sw])
		}
		sums.unpack(acc)
		rows := uint32(y1[j] - y0[j])
		out := dst[j*dstStride:][:dw]
		for i := range out {
			var sum uint32
			for _, v := range acc[x0[i]:x1[i]] {
				sum += v
			}
			n := rows * uint32(x1[i]-x0[i])
			out[i] = uint8((sum + n/2) / n)
		}
	}
}

// columnSums adds rows of bytes column by column, eight columns at a time: the even and the odd
// bytes of each 8-byte word go into 16-bit lanes of two 64-bit sums, so one addition adds four
// columns. A lane holds the sum of up to 257 rows of bytes.
type columnSums struct {
	n         int
	even, odd []uint64
	tail      []uint32 // the last n%8 columns
}

func newColumnSums(n int) *columnSums {
	return &columnSums{n: n, even: make([]uint64, n/8), odd: make([]uint64, n/8), tail: make([]uint32, n%8)}
}

func (c *columnSums) reset() {
	clear(c.even)
	clear(c.odd)
	clear(c.tail)
}

// add adds one row of n bytes.
func (c *columnSums) add(row []byte) {
	const lanes = 0x00ff00ff00ff00ff
	row = row[:c.n]
	even, odd := c.even, c.odd[:len(c.even)]
	for g := range even {
		v := binary.LittleEndian.Uint64(row[8*g:])
		even[g] += v & lanes
		odd[g] += (v >> 8) & lanes
	}
	for i, b := range row[8*len(even):] {
		c.tail[i] += uint32(b)
	}
}

// unpack writes the n column sums to out.
func (c *columnSums) unpack(out []uint32) {
	out = out[:c.n]
	for g, e := range c.even {
		o := c.odd[g]
		w := out[8*g : 8*g+8]
		w[0], w[1] = uint32(e&0xffff), uint32(o&0xffff)
		w[2], w[3] = uint32(e>>16&0xffff), uint32(o>>16&0xffff)
		w[4], w[5] = uint32(e>>32&0xffff), uint32(o>>32&0xffff)
		w[6], w[7] = uint32(e>>48), uint32(o>>48)
	}
	copy(out[8*len(c.even):], c.tail)
}
