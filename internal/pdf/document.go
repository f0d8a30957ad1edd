package pdf

import (
	"crypto/md5"
	"fmt"
	"hash"
	"io"
	"math"
	"strconv"
	"time"
)

// A Document is a PDF being drawn, page by page. Coordinates are in a unit of the caller's choice
// (see New) from the page's top left corner, y downwards, as a layout is written; the document
// turns them into PDF's points from the bottom left.
//
// A page is written out as soon as the next one starts (see NewWriter), so a document of any
// number of pages holds one page's content and, per font, which glyphs it used: the font subsets
// are written at the end, when the document knows every glyph.
//
// Drawing never fails; an error from a bad input (an image that is not a JPEG) comes back from the
// call that took it, and an error writing the output from AddPage and Close. A Document is for one
// goroutine.
type Document struct {
	info   Info
	w, h   float64 // the current page's size in points
	k      float64 // points per user unit
	out    []byte  // the current page's content stream
	open   bool    // a page is being drawn
	fonts  []*usedFont
	images []*usedImage
	links  []link // on the current page

	file   *writer
	dst    io.Writer // nil until Write, for a document made with New
	pages  []int     // the page objects written so far
	digest hash.Hash // of every content stream: the file identifier
	err    error     // the first error writing; every later call returns it
	closed bool
	// Objects reserved up front and written at the end, when they are complete.
	catalog, pageTree, resources, infoObj int

	want  state // what the caller set
	cur   state // what the content stream has set, as far as it matters
	saved []state
	font  *usedFont
	size  float64 // font size in points
	text  RGB
}

// Info is the document's metadata. Created is also its modification date: a document is written
// once.
type Info struct {
	Title, Subject, Author, Creator, Producer string
	Created                                   time.Time
	Lang                                      string // BCP 47, e.g. nb-NO: the language a screen reader reads it in
}

// RGB is a device RGB colour.
type RGB struct{ R, G, B uint8 }

// Paint says how a shape is painted.
type Paint int

const (
	Fill Paint = 1 << iota
	Stroke
)

// Corners selects the corners RoundedRect rounds.
type Corners int

const (
	TopLeft Corners = 1 << iota
	TopRight
	BottomRight
	BottomLeft
	AllCorners = TopLeft | TopRight | BottomRight | BottomLeft
)

// state is the part of the graphics state the document sets.
type state struct {
	fill, stroke RGB
	lineWidth    float64 // points
	dash         string  // the operands of d, "[] 0" for solid
	tf           transform
}

// transform maps user coordinates (u, v) as drawn to x+s·u, y+s·v in the page's user coordinates.
type transform struct{ x, y, s float64 }

var identity = transform{s: 1}

type usedFont struct {
	*Font
	res  string // resource name, F1…
	obj  int    // the Type 0 font's object number, reserved when first used
	used []rune // per glyph id, the character it was used for (0: unused)
}

// usedImage is an image of the document: written (once) with the page that first draws it.
type usedImage struct {
	*Image
	obj     int
	written bool
}

type link struct {
	x, y, w, h float64 // points, PDF coordinates
	uri        string
}

// initial is the graphics state every page starts in: PDF's defaults.
var initial = state{lineWidth: 1, dash: "[] 0", tf: identity}

// New starts a document with one page, width × height in unit, where unit is the size of the unit
// in points (72/25.4 for millimetres). It is kept in memory until Write: for a page or a few
// (AddPage adds more); a long document is written as it goes with NewWriter.
func New(width, height, unit float64, info Info) *Document {
	d := newDocument(nil, unit, info)
	d.startPage(width, height)
	return d
}

// NewWriter starts a document written to out as it is drawn, in unit as New has it: each page
// goes to out when the next one starts (AddPage), the fonts and the rest when the document is
// closed (Close). It has no page until the first AddPage.
func NewWriter(out io.Writer, unit float64, info Info) *Document {
	return newDocument(out, unit, info)
}

func newDocument(out io.Writer, unit float64, info Info) *Document {
	d := &Document{info: info, k: unit, want: initial, cur: initial, out: make([]byte, 0, 16<<10),
		dst: out, digest: md5.New(), file: &writer{b: make([]byte, 0, flushAt+16<<10)}}
	d.file.b = append(d.file.b, "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"...) // the comment's high bytes mark the file binary
	d.catalog, d.pageTree, d.resources, d.infoObj = d.file.reserve(), d.file.reserve(), d.file.reserve(), d.file.reserve()
	return d
}

// AddPage finishes the current page, writing it out if the document has a writer, and starts a
// new one of width × height. Colours, line style, font and text colour carry over; a Save must
// have been restored on the page it was made on. The error is one from writing, or a Save
// without its Restore; it sticks, and Close returns it too.
func (d *Document) AddPage(width, height float64) error {
	if d.closed {
		return fmt.Errorf("add PDF page: the document is closed")
	}
	if d.open {
		d.finishPage()
	}
	d.startPage(width, height)
	return d.err
}

func (d *Document) startPage(width, height float64) {
	d.w, d.h, d.open = width*d.k, height*d.k, true
	d.cur = initial // every content stream starts in the default graphics state
	d.out = d.out[:0]
	d.links = d.links[:0]
}

// SetFont sets the font and its size in points for Text and StringWidth.
func (d *Document) SetFont(f *Font, size float64) {
	d.size = size
	for _, u := range d.fonts {
		if u.Font == f {
			d.font = u
			return
		}
	}
	d.font = &usedFont{Font: f, res: fmt.Sprintf("F%d", len(d.fonts)+1), obj: d.file.reserve(), used: make([]rune, len(f.width))}
	d.fonts = append(d.fonts, d.font)
}

// StringWidth is the width of s in the current font, in user units.
func (d *Document) StringWidth(s string) float64 {
	if d.font == nil {
		return 0
	}
	return d.font.Width(s, d.size) / d.k
}

// SetTextColor sets the colour Text draws in.
func (d *Document) SetTextColor(c RGB) { d.text = c }

// SetFillColor sets the colour filled shapes are painted in.
func (d *Document) SetFillColor(c RGB) { d.want.fill = c }

// SetStrokeColor sets the colour of lines and outlines.
func (d *Document) SetStrokeColor(c RGB) { d.want.stroke = c }

// SetLineWidth sets the width of lines and outlines, in user units.
func (d *Document) SetLineWidth(w float64) { d.want.lineWidth = w * d.k }

// SetDash makes lines dashed: pattern is on and off lengths in user units, starting phase into
// it. No pattern draws solid lines.
func (d *Document) SetDash(pattern []float64, phase float64) {
	b := []byte{'['}
	for i, v := range pattern {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendNum(b, v*d.k)
	}
	b = append(b, "] "...)
	d.want.dash = string(appendNum(b, phase*d.k))
}

// Text draws s with its baseline starting at x, y, in the current font and text colour.
func (d *Document) Text(x, y float64, s string) {
	if d.font == nil || s == "" {
		return
	}
	d.setFill(d.text)
	b := append(d.out, "BT /"...)
	b = append(b, d.font.res...)
	b = append(b, ' ')
	b = appendNum(b, d.size)
	b = append(b, " Tf "...)
	b = d.point(b, x, y)
	b = append(b, " Td <"...)
	for _, r := range s {
		g := d.font.glyph(r)
		if g != 0 && d.font.used[g] == 0 {
			d.font.used[g] = r
		}
		b = append(b, hexDigits[g>>12], hexDigits[g>>8&15], hexDigits[g>>4&15], hexDigits[g&15])
	}
	d.out = append(b, "> Tj ET\n"...)
}

const hexDigits = "0123456789ABCDEF"

// Rect draws a rectangle with its top left corner at x, y.
func (d *Document) Rect(x, y, w, h float64, p Paint) {
	d.prepare(p)
	d.out = d.rect(d.out, x, y, w, h)
	d.paint(p)
}

func (d *Document) rect(b []byte, x, y, w, h float64) []byte {
	b = d.point(b, x, y+h)
	b = append(b, ' ')
	b = appendNum(b, w*d.k)
	b = append(b, ' ')
	b = appendNum(b, h*d.k)
	return append(b, " re\n"...)
}

// bezierArc is how far along the tangents the control points of a cubic Bézier curve lie that
// approximates a quarter circle of radius 1.
var bezierArc = 4 * (math.Sqrt2 - 1) / 3

// RoundedRect draws a rectangle with its top left corner at x, y whose corners are quarter circles
// of radius r.
func (d *Document) RoundedRect(x, y, w, h, r float64, corners Corners, p Paint) {
	d.prepare(p)
	radius := func(c Corners) float64 {
		if corners&c != 0 {
			return min(r, w/2, h/2)
		}
		return 0
	}
	tl, tr, br, bl := radius(TopLeft), radius(TopRight), radius(BottomRight), radius(BottomLeft)
	b := d.out
	// Clockwise on the page from the top edge, each corner a curve from the end of one edge to
	// the start of the next.
	b = d.op(b, "m", x+tl, y)
	b = d.op(b, "l", x+w-tr, y)
	b = d.corner(b, x+w-tr, y, x+w, y+tr, tr, true)
	b = d.op(b, "l", x+w, y+h-br)
	b = d.corner(b, x+w, y+h-br, x+w-br, y+h, br, false)
	b = d.op(b, "l", x+bl, y+h)
	b = d.corner(b, x+bl, y+h, x, y+h-bl, bl, true)
	b = d.op(b, "l", x, y+tl)
	b = d.corner(b, x, y+tl, x+tl, y, tl, false)
	d.out = append(b, "h\n"...)
	d.paint(p)
}

// corner appends a quarter circle of radius r from (x0, y0) to (x1, y1). A horizontal start
// (horizontalFirst) leaves along x; otherwise along y.
func (d *Document) corner(b []byte, x0, y0, x1, y1, r float64, horizontalFirst bool) []byte {
	if r == 0 {
		return b
	}
	c := r * bezierArc
	var c1x, c1y, c2x, c2y float64
	if horizontalFirst {
		c1x, c1y = x0+math.Copysign(c, x1-x0), y0
		c2x, c2y = x1, y1-math.Copysign(c, y1-y0)
	} else {
		c1x, c1y = x0, y0+math.Copysign(c, y1-y0)
		c2x, c2y = x1-math.Copysign(c, x1-x0), y1
	}
	b = d.point(b, c1x, c1y)
	b = append(b, ' ')
	b = d.point(b, c2x, c2y)
	b = append(b, ' ')
	b = d.point(b, x1, y1)
	return append(b, " c\n"...)
}

// Line draws a straight line.
func (d *Document) Line(x1, y1, x2, y2 float64) {
	d.prepare(Stroke)
	d.out = d.op(d.out, "m", x1, y1)
	d.out = d.op(d.out, "l", x2, y2)
	d.paint(Stroke)
}

// FillBitmap fills, in the fill colour, the cells that are set in rows, each cell × cell with the
// top left one at x, y: a QR code or a barcode as vector shapes, sharp at any zoom. A run of set
// cells is one rectangle, a hair taller than its row so that viewers that anti-alias show no
// seams between rows.
func (d *Document) FillBitmap(x, y, cell float64, rows [][]bool) {
	d.prepare(Fill)
	// In a coordinate system of one cell per unit, y downwards, every number is a small integer.
	s := cell * d.k
	b := append(d.out, "q "...)
	b = appendNum(b, s)
	b = append(b, " 0 0 "...)
	b = appendNum(b, -s)
	b = append(b, ' ')
	b = d.point(b, x, y)
	b = append(b, " cm\n"...)
	for r, row := range rows {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < len(row) && row[c] {
				c++
			}
			b = appendInt(b, start)
			b = append(b, ' ')
			b = appendInt(b, r)
			b = append(b, ' ')
			b = appendInt(b, c-start)
			b = append(b, " 1.02 re\n"...)
		}
	}
	d.out = append(b, "f Q\n"...)
}

// DrawImage draws img scaled into w × h with its top left corner at x, y.
func (d *Document) DrawImage(img *Image, x, y, w, h float64) {
	n := 0
	for i, known := range d.images {
		if known.Image == img {
			n = i + 1
		}
	}
	if n == 0 {
		d.images = append(d.images, &usedImage{Image: img, obj: d.file.reserve()})
		n = len(d.images)
	}
	b := append(d.out, "q "...)
	b = appendNum(b, w*d.k)
	b = append(b, " 0 0 "...)
	b = appendNum(b, h*d.k)
	b = append(b, ' ')
	b = d.point(b, x, y+h)
	b = append(b, " cm /Im"...)
	b = appendInt(b, n)
	d.out = append(b, " Do Q\n"...)
}

// Transform moves the origin to x, y and scales by scale (both about the new origin) until the
// matching Restore: what is drawn at u, v afterwards lands at x+scale·u, y+scale·v, and line
// widths, dashes and text scale with it. Transforms inside one another compose.
func (d *Document) Transform(x, y, scale float64) {
	// The scale multiplies every coordinate: a thousandth off would move the far edge of a page
	// by most of a point, so it is written to a millionth, and the translation below computed
	// with the scale as written.
	scale = math.Round(scale*1e6) / 1e6
	b := strconv.AppendFloat(d.out, scale, 'f', -1, 64)
	b = append(b, " 0 0 "...)
	b = strconv.AppendFloat(b, scale, 'f', -1, 64)
	b = append(b, ' ')
	// In PDF's space, y upwards from the page's bottom: x' = s·x + k·x0, y' = s·y + h·(1−s) − k·y0.
	b = appendNum(b, x*d.k)
	b = append(b, ' ')
	b = appendNum(b, d.h*(1-scale)-y*d.k)
	d.out = append(b, " cm\n"...)
	t := d.cur.tf
	d.cur.tf = transform{x: t.x + t.s*x, y: t.y + t.s*y, s: t.s * scale}
}

// Save saves the graphics state (colours, line style, clipping, transform) until the matching
// Restore.
func (d *Document) Save() {
	d.saved = append(d.saved, d.cur)
	d.out = append(d.out, "q\n"...)
}

// Restore returns to the graphics state of the matching Save.
func (d *Document) Restore() {
	if len(d.saved) == 0 {
		return
	}
	d.cur = d.saved[len(d.saved)-1]
	d.saved = d.saved[:len(d.saved)-1]
	d.out = append(d.out, "Q\n"...)
}

// ClipRect limits drawing to a rectangle until Restore.
func (d *Document) ClipRect(x, y, w, h float64) {
	d.out = d.rect(d.out, x, y, w, h)
	d.out = append(d.out, "W n\n"...)
}

// Link makes a rectangle of the page a link to uri.
func (d *Document) Link(x, y, w, h float64, uri string) {
	t := d.cur.tf // an annotation is placed on the page, outside the content's transform
	x, y, w, h = t.x+t.s*x, t.y+t.s*y, t.s*w, t.s*h
	d.links = append(d.links, link{x: x * d.k, y: d.h - (y+h)*d.k, w: w * d.k, h: h * d.k, uri: uri})
}

// prepare brings the content stream's colours and line style to what painting with p needs.
func (d *Document) prepare(p Paint) {
	if p&Fill != 0 {
		d.setFill(d.want.fill)
	}
	if p&Stroke == 0 {
		return
	}
	b := d.out
	if d.cur.stroke != d.want.stroke {
		b = appendColour(b, d.want.stroke, " RG\n")
	}
	if d.cur.lineWidth != d.want.lineWidth {
		b = appendNum(b, d.want.lineWidth)
		b = append(b, " w\n"...)
	}
	if d.cur.dash != d.want.dash {
		b = append(b, d.want.dash...)
		b = append(b, " d\n"...)
	}
	d.out = b
	d.cur.stroke, d.cur.lineWidth, d.cur.dash = d.want.stroke, d.want.lineWidth, d.want.dash
}

func (d *Document) setFill(c RGB) {
	if d.cur.fill != c {
		d.out = appendColour(d.out, c, " rg\n")
		d.cur.fill = c
	}
}

func (d *Document) paint(p Paint) {
	switch p {
	case Fill:
		d.out = append(d.out, "f\n"...)
	case Stroke:
		d.out = append(d.out, "S\n"...)
	case Fill | Stroke:
		d.out = append(d.out, "B\n"...)
	default:
		d.out = append(d.out, "n\n"...)
	}
}

// point appends x, y in page coordinates.
func (d *Document) point(b []byte, x, y float64) []byte {
	b = appendNum(b, x*d.k)
	b = append(b, ' ')
	return appendNum(b, d.h-y*d.k)
}

// op appends a path operator taking one point.
func (d *Document) op(b []byte, op string, x, y float64) []byte {
	b = d.point(b, x, y)
	b = append(b, ' ')
	b = append(b, op...)
	return append(b, '\n')
}

func appendColour(b []byte, c RGB, op string) []byte {
	b = appendNum(b, float64(c.R)/255)
	b = append(b, ' ')
	b = appendNum(b, float64(c.G)/255)
	b = append(b, ' ')
	b = appendNum(b, float64(c.B)/255)
	return append(b, op...)
}
