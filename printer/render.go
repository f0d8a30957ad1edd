package printer

import (
	"crypto/ed25519"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"sync"
	"time"
)

// Card geometry. A face is an ID-1 (CR80) card, 85.60 × 53.98 mm, at 300 dpi: 1011 × 638
// pixels, landscape, as the holder reads it, in 8-bit sRGB (opaque *image.RGBA). The print
// document turns it to the printer's portrait media (see pwgraster.go).
const (
	DPI        = 300
	FaceWidth  = 1011 // 85.60 mm
	FaceHeight = 638  // 53.98 mm
)

// mm converts millimetres to pixels at 300 dpi.
func mm(v float64) int { return int(v*DPI/25.4 + 0.5) }

// Colours. The band colour tells the three card types apart at a glance, also to the colour-blind:
// the bands differ in lightness as well as hue, and name the type in words.
func white() color.RGBA { return color.RGBA{0xff, 0xff, 0xff, 0xff} }
func ink() color.RGBA   { return color.RGBA{0x12, 0x12, 0x12, 0xff} }
func grey() color.RGBA  { return color.RGBA{0x5a, 0x5a, 0x5a, 0xff} }

// layout is where everything goes on a face, in pixels at 300 dpi, worked out from millimetres
// once by newLayout. On the front, the text boxes right of the photo follow each other top to
// bottom, each ending before the next begins, and the column ends above the photo's bottom edge,
// so no text can touch another. On the back, ISO/IEC 7811-6 puts a magnetic stripe 5.54–15.82 mm
// from the top edge; the stripe zone (to 17 mm) is left unprinted so the encoder writes on clean
// stripe, and the QR code and the words sit below it.
type layout struct {
	margin     int // 2.5 mm keeps text clear of the printer's edge-to-edge tolerance
	band       int // height of the front's top band
	bottomBand int // top of the bottom band
	stripe     int // bottom of the back's stripe zone

	photo               image.Rectangle // 22 × 28 mm
	textLeft, textRight int
	labelPx, nameLabelY int
	family, given       textBox
	employer, orgNumber textBox
	fieldsTop, fieldW   int
	fieldCols           [3]int

	qr, backText image.Rectangle
	backNumber   textBox
}

func newLayout() layout {
	var l layout
	l.margin = mm(2.5)
	l.band = mm(8.5)
	l.bottomBand = FaceHeight - mm(2)
	l.stripe = mm(17)
	l.photo = image.Rect(l.margin, l.band+mm(2), l.margin+mm(22), l.band+mm(2)+mm(28))
	l.textLeft, l.textRight = l.photo.Max.X+mm(3), FaceWidth-l.margin
	l.labelPx = 20
	l.nameLabelY = l.photo.Min.Y - 4
	lh := l.labelPx * 5 / 4
	top := l.nameLabelY + lh
	l.family = textBox{r: image.Rect(l.textLeft, top, l.textRight, top+92), maxPx: 52, minPx: 18, maxLines: 2, bold: true, col: ink()}
	l.given = textBox{r: image.Rect(l.textLeft, l.family.r.Max.Y, l.textRight, l.family.r.Max.Y+72), maxPx: 40, minPx: 16, maxLines: 2, col: ink()}
	top = l.given.r.Max.Y + 10 + lh
	l.employer = textBox{r: image.Rect(l.textLeft, top, l.textRight, top+64), maxPx: 34, minPx: 16, maxLines: 2, bold: true, col: ink()}
	l.orgNumber = textBox{r: image.Rect(l.textLeft, l.employer.r.Max.Y, l.textRight, l.employer.r.Max.Y+34), maxPx: 28, minPx: 28, maxLines: 1, col: ink()}
	l.fieldsTop = l.photo.Max.Y + mm(2)
	l.fieldCols = [3]int{l.margin, l.margin + mm(29), l.margin + mm(54)}
	l.fieldW = mm(24)
	l.qr = image.Rect(l.margin, l.stripe+mm(1), l.margin+mm(27), l.stripe+mm(1)+mm(27))
	l.backText = image.Rect(l.qr.Max.X+mm(3), l.stripe+mm(1.5), FaceWidth-l.margin, l.bottomBand-mm(1))
	l.backNumber = textBox{r: image.Rect(l.backText.Min.X, l.backText.Min.Y, l.backText.Max.X, l.backText.Min.Y+mm(4)), maxPx: 40, minPx: 24, maxLines: 1, bold: true, col: ink()}
	return l
}

// label is the box of a small grey field label at (x, y), w wide.
func (l *layout) label(x, y, w int) textBox {
	return textBox{r: image.Rect(x, y, x+w, y+l.labelPx*5/4), maxPx: l.labelPx, minPx: 14, maxLines: 1, col: grey()}
}

func (t CardType) band() color.RGBA {
	switch t {
	case Construction:
		return color.RGBA{0xf2, 0x8c, 0x00, 0xff} // amber
	case Cleaning:
		return color.RGBA{0x1b, 0x7a, 0x3a, 0xff} // green
	default:
		return color.RGBA{0x1f, 0x3f, 0x8f, 0xff} // dark blue
	}
}

// bandText is the colour of text on the band: dark on the light amber, white on the dark bands.
func (t CardType) bandText() color.RGBA {
	if t == Construction {
		return ink()
	}
	return white()
}

// Options configure a Renderer.
type Options struct {
	// StatusBaseURL is the base of the signed status URL in the QR code (CARDLINE_STATUS_BASE_URL).
	StatusBaseURL string
	// SigningKey signs the status URL (CARDLINE_QR_SIGNING_KEY).
	SigningKey ed25519.PrivateKey
	// ReturnNotice says where a found card goes; the default names the police.
	ReturnNotice string
}

// DefaultReturnNotice is printed on the back when Options.ReturnNotice is empty.
const DefaultReturnNotice = "Funnet kort leveres til nærmeste politistasjon. Found? Please hand the card in to the nearest police station."

// A Renderer draws card faces. It keeps the parsed fonts and a pre-drawn background per card type
// and side, so a card costs only its own text, photo and QR code. It is safe for concurrent use:
// renders take turns (font faces are not safe for concurrent use); make one per worker to render
// in parallel.
type Renderer struct {
	opts Options
	lay  layout
	mu   sync.Mutex
	fs   *fonts
	bg   map[bgKey]*image.RGBA // the static layer per card type and side, as a face
	// bgPage is the static layer turned onto the print page, bgBox the layer under each
	// element's box, and scratch holds one element while it is drawn for a page (see
	// RenderPagesInto). The page path keeps no whole landscape layer: bg fills only for Render.
	bgPage  map[bgKey]*image.RGBA
	bgBox   map[boxKey]*image.RGBA
	scratch []byte
}

type boxKey struct {
	bgKey
	box image.Rectangle
}

type bgKey struct {
	t    CardType
	back bool
}

// NewRenderer parses the fonts and checks the options.
func NewRenderer(opts Options) (*Renderer, error) {
	if _, err := StatusURL(opts.StatusBaseURL, opts.SigningKey, "0000000000", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, fmt.Errorf("new renderer: %w", err)
	}
	if opts.ReturnNotice == "" {
		opts.ReturnNotice = DefaultReturnNotice
	}
	fs, err := loadFonts()
	if err != nil {
		return nil, fmt.Errorf("new renderer: %w", err)
	}
	return &Renderer{opts: opts, lay: newLayout(), fs: fs, bg: map[bgKey]*image.RGBA{}, bgPage: map[bgKey]*image.RGBA{},
		bgBox: map[boxKey]*image.RGBA{}}, nil
}

// Render validates the face and draws its front and back into new images.
func (r *Renderer) Render(f *Face) (front, back *image.RGBA, err error) {
	front, back = NewFace(), NewFace()
	if err := r.RenderInto(f, front, back); err != nil {
		return nil, nil, err
	}
	return front, back, nil
}

// NewFace returns a blank image of a card face's size, for RenderInto.
func NewFace() *image.RGBA { return image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight)) }

// RenderInto is Render drawing into front and back (from NewFace), every pixel of which it
// overwrites. A station renders card after card into the same two images and saves allocating
// and faulting in 5 MB a card, which costs as much as drawing it.
func (r *Renderer) RenderInto(f *Face, front, back *image.RGBA) error {
	if err := f.Validate(); err != nil {
		return err
	}
	want := image.Rect(0, 0, FaceWidth, FaceHeight)
	if front == nil || back == nil || front.Rect != want || back.Rect != want || front == back {
		return fmt.Errorf("render card %s: front and back must be two distinct %d×%d images", f.CardNumber, FaceWidth, FaceHeight)
	}
	qr, err := r.prepare(f)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drawFront(front, f)
	r.drawBack(back, f, qr)
	return nil
}

// prepare makes the modules of the face's QR code, the work of a render that needs no lock.
func (r *Renderer) prepare(f *Face) ([][]bool, error) {
	url, err := StatusURL(r.opts.StatusBaseURL, r.opts.SigningKey, f.CardNumber, f.Expiry)
	if err != nil {
		return nil, fmt.Errorf("render card %s: %w", f.CardNumber, err)
	}
	qr, err := QRModules(url)
	if err != nil {
		return nil, fmt.Errorf("render card %s: %w", f.CardNumber, err)
	}
	return qr, nil
}

// background copies the static layer for a card type and side into img.
func (r *Renderer) background(img *image.RGBA, t CardType, back bool) {
	copy(img.Pix, r.staticLayer(t, back).Pix)
}

// staticLayer is the part of a face that every card of a type shows on that side, drawn on first
// use and kept. The caller holds r.mu.
func (r *Renderer) staticLayer(t CardType, back bool) *image.RGBA {
	k := bgKey{t, back}
	bg, ok := r.bg[k]
	if !ok {
		bg = r.drawStatic(t, back)
		r.bg[k] = bg
	}
	return bg
}

// drawStatic draws the static layer of a card type's side onto a new face.
func (r *Renderer) drawStatic(t CardType, back bool) *image.RGBA {
	bg := NewFace()
	fill(bg, bg.Rect, white())
	if back {
		r.drawBackStatic(bg, t)
	} else {
		r.drawFrontStatic(bg, t)
	}
	return bg
}

// layerForPages is the static layer when the page path needs it to make its own caches: the
// kept one if Render has made it, else a fresh one that is not kept (a station renders only
// pages, and a whole face per type and side is 2.6 MB of heap it would never read again).
func (r *Renderer) layerForPages(t CardType, back bool) *image.RGBA {
	if bg, ok := r.bg[bgKey{t, back}]; ok {
		return bg
	}
	return r.drawStatic(t, back)
}

func fill(dst *image.RGBA, rect image.Rectangle, c color.RGBA) {
	draw.Draw(dst, rect, image.NewUniform(c), image.Point{}, draw.Src)
}

func (r *Renderer) drawFrontStatic(img *image.RGBA, t CardType) {
	l := &r.lay
	nb, en, _ := t.words()
	fill(img, image.Rect(0, 0, FaceWidth, l.band), t.band())
	fill(img, image.Rect(0, l.bottomBand, FaceWidth, FaceHeight), t.band())
	textBox{r: image.Rect(l.margin, mm(1.3), mm(30), l.band), maxPx: 56, minPx: 30, maxLines: 1, bold: true, col: t.bandText()}.draw(img, r.fs, "HMS-KORT")
	textBox{r: image.Rect(mm(30), mm(1), FaceWidth-l.margin, mm(5.2)), maxPx: 44, minPx: 24, maxLines: 1, bold: true, col: t.bandText()}.draw(img, r.fs, nb)
	textBox{r: image.Rect(mm(30), mm(5.2), FaceWidth-l.margin, l.band), maxPx: 30, minPx: 18, maxLines: 1, col: t.bandText()}.draw(img, r.fs, en)
	fill(img, l.photo.Inset(-2), color.RGBA{0xc8, 0xc8, 0xc8, 0xff})
	l.label(l.textLeft, l.nameLabelY, l.textRight-l.textLeft).draw(img, r.fs, "Navn / Name")
	l.label(l.textLeft, l.employer.r.Min.Y-l.labelPx*5/4, l.textRight-l.textLeft).draw(img, r.fs, "Arbeidsgiver / Employer")
	for i, s := range []string{"Kortnr. / Card no.", "Født / Date of birth", "Gyldig til / Valid until"} {
		l.label(l.fieldCols[i], l.fieldsTop, l.fieldW+mm(4)).draw(img, r.fs, s)
	}
}

// An element is one part of a face that differs from card to card. Its drawing neither writes
// nor reads a pixel of the face outside box, and the elements of a side do not overlap
// (TestElementsAreApart): so an element can be drawn on its own, onto an image of just its box
// that starts as the static layer there, and the result laid onto the page (see RenderPagesInto;
// TestPagesMatchFaces fails if an element strays from its box).
type element struct {
	box  image.Rectangle
	draw func(img *image.RGBA)
}

// text is the element of s set in box b (which clips the drawing).
func (r *Renderer) text(b textBox, s string) element {
	return element{b.r, func(img *image.RGBA) { b.draw(img, r.fs, s) }}
}

// frontElements are the photo and the text of the front.
func (r *Renderer) frontElements(f *Face) []element {
	l := &r.lay
	els := []element{
		{l.photo, func(img *image.RGBA) { drawPhoto(img, l.photo, f.Photo) }},
		r.text(l.family, f.FamilyName),
		r.text(l.given, f.GivenName),
		r.text(l.employer, f.OrgName),
		r.text(l.orgNumber, "Org.nr. "+groupOrgNumber(f.OrgNumber)),
	}
	y := l.fieldsTop + l.labelPx*5/4
	for i, s := range []string{f.CardNumber, date(f.BirthDate), date(f.Expiry)} {
		b := textBox{r: image.Rect(l.fieldCols[i], y, l.fieldCols[i]+l.fieldW, y+mm(4)), maxPx: 40, minPx: 24, maxLines: 1, bold: true, col: ink()}
		els = append(els, r.text(b, s))
	}
	return els
}

// backElements are the QR code and the card number of the back.
func (r *Renderer) backElements(f *Face, qr [][]bool) []element {
	l := &r.lay
	return []element{
		{l.qr, func(img *image.RGBA) { drawQR(img, l.qr, qr) }},
		r.text(l.backNumber, "Kortnr. "+f.CardNumber),
	}
}

func (r *Renderer) drawFront(img *image.RGBA, f *Face) {
	r.background(img, f.CardType, false)
	for _, e := range r.frontElements(f) {
		e.draw(img)
	}
}

func (r *Renderer) drawBackStatic(img *image.RGBA, t CardType) {
	l := &r.lay
	nb, en, _ := t.words()
	fill(img, image.Rect(0, l.bottomBand-mm(1.5), FaceWidth, FaceHeight), t.band())
	textBox{r: image.Rect(l.margin, l.bottomBand-mm(1.3), FaceWidth-l.margin, FaceHeight), maxPx: 22, minPx: 16, maxLines: 1, bold: true, col: t.bandText()}.draw(img, r.fs, "HMS-KORT  ·  "+nb+"  ·  "+en)
	y := l.backNumber.r.Max.Y + mm(1)
	para := func(s string, h float64, bold bool) {
		textBox{r: image.Rect(l.backText.Min.X, y, l.backText.Max.X, y+mm(h)), maxPx: 24, minPx: 16, maxLines: 4, bold: bold, col: ink()}.draw(img, r.fs, s)
		y += mm(h)
	}
	para("Kortet tilhører arbeidsgiveren og er personlig. Det kan ikke overdras til andre.", 5.2, true)
	para("This card is the property of the employer and is personal. It may not be transferred.", 5.2, false)
	para(r.opts.ReturnNotice, 7, false)
	textBox{r: image.Rect(l.qr.Min.X, l.qr.Max.Y, l.qr.Max.X+mm(2), l.qr.Max.Y+mm(2.6)), maxPx: 20, minPx: 14, maxLines: 1, col: grey()}.draw(img, r.fs, "Skann for status / Scan for status")
}

func (r *Renderer) drawBack(img *image.RGBA, f *Face, qr [][]bool) {
	r.background(img, f.CardType, true)
	for _, e := range r.backElements(f, qr) {
		e.draw(img)
	}
}

// drawQR draws the modules centred in box at the largest whole-pixel module size that fits with a
// 4-module quiet zone (the box is white, so the quiet zone is the box itself). It writes only
// inside box, which RenderPagesInto relies on, as long as one pixel a module fits: the largest
// code (version 40, 177 modules) does in the 27 mm (319 px) box.
func drawQR(img *image.RGBA, box image.Rectangle, mods [][]bool) {
	n := len(mods)
	m := min(box.Dx(), box.Dy()) / (n + 8)
	if m < 1 {
		m = 1
	}
	side := n * m
	x0 := box.Min.X + (box.Dx()-side)/2
	y0 := box.Min.Y + (box.Dy()-side)/2
	// Dark modules written straight into the pixels (a draw call a module allocated per module).
	black := [4]byte{0, 0, 0, 0xff}
	for y, row := range mods {
		for py := y0 + y*m; py < y0+y*m+m; py++ {
			line := img.Pix[img.PixOffset(x0, py):][:4*side]
			for x, dark := range row {
				if !dark {
					continue
				}
				for px := x * m; px < x*m+m; px++ {
					copy(line[4*px:4*px+4], black[:])
				}
			}
		}
	}
}

// date prints a calendar date the Norwegian way.
func date(t time.Time) string { return t.Format("02.01.2006") }

// groupOrgNumber prints an organisation number as the Brønnøysund register does: 923 609 016.
func groupOrgNumber(s string) string {
	if len(s) != 9 {
		return s
	}
	return strings.Join([]string{s[:3], s[3:6], s[6:]}, " ")
}
