package printer

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
)

// NewPage returns a blank image of a print page's size (the face turned to the portrait media,
// pageWidth × pageHeight), for RenderPagesInto.
func NewPage() *image.RGBA { return image.NewRGBA(image.Rect(0, 0, pageWidth, pageHeight)) }

// Pages are a card's two print pages (NewPage), for RenderPagesInto.
type Pages struct{ Front, Back *image.RGBA }

// A PagePool lends pairs of print pages to the workers that render cards. A pair is 5 MB and is
// needed only while a card is drawn and its document encoded, which is work for a core: so the
// workers of a process share as many pairs as there are cores, and a worker waits for one rather
// than every station of a large line holding its own.
type PagePool struct {
	free chan *Pages // idle pairs
	lent chan struct{}
}

// NewPagePool returns a pool that lends at most n pairs (at least one) at a time.
func NewPagePool(n int) *PagePool {
	n = max(n, 1)
	return &PagePool{free: make(chan *Pages, n), lent: make(chan struct{}, n)}
}

// Get lends a pair, waiting while all are lent; an error only when ctx ends first.
func (p *PagePool) Get(ctx context.Context) (*Pages, error) {
	select {
	case p.lent <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for print pages: %w", ctx.Err())
	}
	select {
	case pg := <-p.free:
		return pg, nil
	default:
		return &Pages{Front: NewPage(), Back: NewPage()}, nil
	}
}

// Put gives back a pair that Get lent.
func (p *PagePool) Put(pg *Pages) {
	p.free <- pg // never blocks: at most n pairs exist
	<-p.lent
}

// RenderPagesInto draws the card's front and back as they lie on the portrait print pages (from
// NewPage), every pixel of which it overwrites: each face turned a quarter turn clockwise, so
// that EncodePages of the two pages is the document EncodeRaster makes of Render's faces.
//
// Only what differs from card to card is turned per card: the page starts as a copy of the
// static layer turned once per card type and side, and each variable element is drawn by the
// same code as in Render, onto a small image of its own box that starts as the static layer
// under the box, and only the part of the box it changed is turned onto the page.
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
	for _, e := range els {
		bg := r.staticBox(t, back, e.box)
		box := bg.Rect
		n := 4 * box.Dx() * box.Dy()
		if cap(r.scratch) < n {
			r.scratch = make([]byte, n)
		}
		img := &image.RGBA{Pix: r.scratch[:n], Stride: 4 * box.Dx(), Rect: box}
		for y := box.Min.Y; y < box.Max.Y; y++ {
			copy(img.Pix[img.PixOffset(box.Min.X, y):][:img.Stride], bg.Pix[bg.PixOffset(box.Min.X, y):])
		}
		e.draw(img)
		if ink := changed(img, bg); !ink.Empty() {
			turnOnto(page, img.SubImage(ink).(*image.RGBA))
		}
	}
}

// changed is the smallest rectangle of img outside which img equals bg: the part of an element
// worth turning onto a page that already shows bg. Text leaves much of its box untouched.
func changed(img, bg *image.RGBA) image.Rectangle {
	r := img.Rect
	row := func(m *image.RGBA, y int) []byte {
		off := m.PixOffset(r.Min.X, y)
		return m.Pix[off : off+4*r.Dx()]
	}
	for r.Min.Y < r.Max.Y && bytes.Equal(row(img, r.Min.Y), row(bg, r.Min.Y)) {
		r.Min.Y++
	}
	for r.Max.Y > r.Min.Y && bytes.Equal(row(img, r.Max.Y-1), row(bg, r.Max.Y-1)) {
		r.Max.Y--
	}
	if r.Empty() {
		return image.Rectangle{}
	}
	// Each row narrows the columns left to look at from either end.
	left, right := r.Dx(), 0 // in pixels from r.Min.X: changed columns lie in [left, right)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a, b := row(img, y), row(bg, y)
		for i := 0; i < left; i++ {
			if binary.LittleEndian.Uint32(a[4*i:]) != binary.LittleEndian.Uint32(b[4*i:]) {
				left = i
				break
			}
		}
		for i := r.Dx() - 1; i >= right; i-- {
			if binary.LittleEndian.Uint32(a[4*i:]) != binary.LittleEndian.Uint32(b[4*i:]) {
				right = i + 1
				break
			}
		}
	}
	r.Min.X, r.Max.X = img.Rect.Min.X+left, img.Rect.Min.X+right
	return r
}

// staticPage is staticLayer turned onto a page, made on first use. The caller holds r.mu.
func (r *Renderer) staticPage(t CardType, back bool) *image.RGBA {
	k := bgKey{t, back}
	p, ok := r.bgPage[k]
	if !ok {
		p = NewPage()
		turnOnto(p, r.layerForPages(t, back))
		r.bgPage[k] = p
	}
	return p
}

// staticBox is the static layer under box (clipped to the face), as a face image of its own
// whose Rect is the box, made on first use. Element boxes are the layout's, the same for every
// card, so there are a handful of these. The caller holds r.mu.
func (r *Renderer) staticBox(t CardType, back bool, box image.Rectangle) *image.RGBA {
	k := boxKey{bgKey{t, back}, box}
	b, ok := r.bgBox[k]
	if !ok {
		layer := r.layerForPages(t, back)
		box = box.Intersect(layer.Rect)
		b = image.NewRGBA(box)
		for y := box.Min.Y; y < box.Max.Y; y++ {
			copy(b.Pix[b.PixOffset(box.Min.X, y):][:4*box.Dx()], layer.Pix[layer.PixOffset(box.Min.X, y):])
		}
		r.bgBox[k] = b
	}
	return b
}

// turnOnto lays src, a part of a face (its Rect where it lies on the face), onto page turned a
// quarter turn clockwise: face pixel (x, y) goes to page pixel (FaceHeight-1-y, x), as
// EncodeRaster lays the face on the page without mirroring.
func turnOnto(page, src *image.RGBA) {
	b := src.Rect
	// Tiles of 64 face columns (64 page rows, whose ends stay in the L1 cache while they fill),
	// each walked eight face rows at a time: a face column then gives eight neighbouring pixels
	// (32 bytes) of its page row, and the eight rows are read along x.
	const tile, block = 64, 8
	var rows [block][]byte
	for x0 := b.Min.X; x0 < b.Max.X; x0 += tile {
		w := min(tile, b.Max.X-x0)
		for y := b.Max.Y; y > b.Min.Y; {
			m := min(block, y-b.Min.Y)
			for r := range m { // face row y-1-r lands at page column FaceHeight-y+r
				off := src.PixOffset(x0, y-1-r)
				rows[r] = src.Pix[off : off+4*w : off+4*w]
			}
			off := page.PixOffset(FaceHeight-y, x0)
			if m == block {
				for i := range w {
					dst := (*[4 * block]byte)(page.Pix[off : off+4*block])
					j := 4 * i
					le := binary.LittleEndian
					le.PutUint32(dst[0:], le.Uint32(rows[0][j:]))
					le.PutUint32(dst[4:], le.Uint32(rows[1][j:]))
					le.PutUint32(dst[8:], le.Uint32(rows[2][j:]))
					le.PutUint32(dst[12:], le.Uint32(rows[3][j:]))
					le.PutUint32(dst[16:], le.Uint32(rows[4][j:]))
					le.PutUint32(dst[20:], le.Uint32(rows[5][j:]))
					le.PutUint32(dst[24:], le.Uint32(rows[6][j:]))
					le.PutUint32(dst[28:], le.Uint32(rows[7][j:]))
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
}
