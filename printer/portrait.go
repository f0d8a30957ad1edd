package printer

import (
	"fmt"
	"image"
)

// NewPage returns a blank image of a print page's size (the face turned to the portrait media,
// pageWidth × pageHeight), for RenderPagesInto.
func NewPage() *image.RGBA { return image.NewRGBA(image.Rect(0, 0, pageWidth, pageHeight)) }

// RenderPagesInto draws the card's front and back as they lie on the portrait print pages (from
// NewPage), every pixel of which it overwrites: each face turned a quarter turn clockwise, so
// that EncodePages of the two pages is the document EncodeRaster makes of Render's faces.
//
// Only what differs from card to card is turned per card: the page starts as a copy of the
// static layer turned once per card type and side, and each variable element is drawn by the
// same code as in Render, onto a small image of its own box that starts as the static layer
// under the box, and that box alone is turned onto the page.
func (r *Renderer) RenderPagesInto(f *Face, front, back *image.RGBA) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if !isPage(front) || !isPage(back) || front == back {
		return fmt.Errorf("render card %s: front and back pages must be two distinct %d×%d images from NewPage", f.CardNumber, pageWidth, pageHeight)
	}
	qr, err := r.prepare(f)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drawPage(front, f.CardType, false, r.frontElements(f))
	r.drawPage(back, f.CardType, true, r.backElements(f, qr))
	return nil
}

// isPage says whether img is laid out as NewPage makes it: the page copy assumes the rows are
// contiguous.
func isPage(img *image.RGBA) bool {
	return img != nil && img.Rect == image.Rect(0, 0, pageWidth, pageHeight) && img.Stride == 4*pageWidth && len(img.Pix) == 4*pageWidth*pageHeight
}

// drawPage draws one side onto its page. The caller holds r.mu.
func (r *Renderer) drawPage(page *image.RGBA, t CardType, back bool, els []element) {
	copy(page.Pix, r.staticPage(t, back).Pix)
	bg := r.staticLayer(t, back)
	for _, e := range els {
		box := e.box.Intersect(bg.Rect)
		n := 4 * box.Dx() * box.Dy()
		if cap(r.scratch) < n {
			r.scratch = make([]byte, n)
		}
		img := &image.RGBA{Pix: r.scratch[:n], Stride: 4 * box.Dx(), Rect: box}
		for y := box.Min.Y; y < box.Max.Y; y++ {
			copy(img.Pix[img.PixOffset(box.Min.X, y):][:img.Stride], bg.Pix[bg.PixOffset(box.Min.X, y):])
		}
		e.draw(img)
		turnOnto(page, img)
	}
}

// staticPage is staticLayer turned onto a page, made on first use. The caller holds r.mu.
func (r *Renderer) staticPage(t CardType, back bool) *image.RGBA {
	k := bgKey{t, back}
	p, ok := r.bgPage[k]
	if !ok {
		p = NewPage()
		turnOnto(p, r.staticLayer(t, back))
		r.bgPage[k] = p
	}
	return p
}

// turnOnto lays src, a part of a face (its Rect where it lies on the face), onto page turned a
// quarter turn clockwise: face pixel (x, y) goes to page pixel (FaceHeight-1-y, x), as
// EncodeRaster lays the face on the page without mirroring.
func turnOnto(page, src *image.RGBA) {
	b := src.Rect
	w := b.Dx()
	// Eight face rows at a time, read along x, each face column giving eight neighbouring pixels
	// (32 bytes) of a page row: both sides then go through memory in order, where a pixel at a
	// time would read the face down its columns.
	const block = 8
	var rows [block][]byte
	for y := b.Max.Y; y > b.Min.Y; {
		m := min(block, y-b.Min.Y)
		for r := range m { // face row y-1-r lands at page column FaceHeight-y+r
			off := src.PixOffset(b.Min.X, y-1-r)
			rows[r] = src.Pix[off : off+4*w : off+4*w]
		}
		off := page.PixOffset(FaceHeight-y, b.Min.X)
		if m == block {
			for i := range w {
				dst := (*[4 * block]byte)(page.Pix[off : off+4*block])
				j := 4 * i
				copy(dst[0:4], rows[0][j:j+4])
				copy(dst[4:8], rows[1][j:j+4])
				copy(dst[8:12], rows[2][j:j+4])
				copy(dst[12:16], rows[3][j:j+4])
				copy(dst[16:20], rows[4][j:j+4])
				copy(dst[20:24], rows[5][j:j+4])
				copy(dst[24:28], rows[6][j:j+4])
				copy(dst[28:32], rows[7][j:j+4])
				off += page.Stride
			}
		} else {
			for i := range w {
				dst := page.Pix[off : off+4*m]
				for r := range m {
					copy(dst[4*r:4*r+4], rows[r][4*i:4*i+4])
				}
				off += page.Stride
			}
		}
		y -= m
	}
}
