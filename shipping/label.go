package shipping

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/boombuler/barcode/code128"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// LabelKind says what a label goes on.
type LabelKind string

// The label kinds.
const (
	LetterLabel LabelKind = "letter" // an envelope with one card
	ParcelLabel LabelKind = "parcel" // an order's accessories
)

// A Label is what one envelope or parcel label shows: the recipient, the sender (return address),
// the "Norge P.P." postage mark, the id as Code 128 with its text, the order number, and a line
// saying what is inside. Every field is printed whole: long text wraps at spaces and the text
// shrinks to fit, down to a legible minimum; what still does not fit is an error naming the field,
// never a cut.
type Label struct {
	Kind    LabelKind
	ID      string
	OrderID string
	To      Address
	Content string
}

// Labels are the batch's labels in packing order: the envelopes, then the parcels.
func (b Batch) Labels() []Label {
	out := make([]Label, 0, len(b.Envelopes)+len(b.Parcels))
	for _, e := range b.Envelopes {
		out = append(out, Label{Kind: LetterLabel, ID: string(e.ID), OrderID: e.OrderID, To: e.To,
			Content: fmt.Sprintf("HMS-kort %d av %d", e.Index, e.Of)})
	}
	for _, p := range b.Parcels {
		items := make([]string, len(p.Items))
		for i, it := range p.Items {
			items[i] = fmt.Sprintf("%d × %s", it.Quantity, it.SKU)
		}
		out = append(out, Label{Kind: ParcelLabel, ID: string(p.ID), OrderID: p.OrderID, To: p.To,
			Content: "Pakke: " + strings.Join(items, ", ")})
	}
	return out
}

// A Labeler lays out and renders labels (PDF and ZPL) with one return address. It holds the parsed
// label fonts; it is safe for concurrent use (nothing in it changes after NewLabeler).
type Labeler struct {
	sender        Address
	zplFont       string
	now           func() time.Time
	regular, bold *face
}

// LabelConfig configures a Labeler.
type LabelConfig struct {
	// Sender is the return address printed on every label.
	Sender Address
	// ZPLFont is the printer-resident font ZPL text is set in, e.g. "E:TT0003M_.TTF" (Swiss 721,
	// on most current Zebra printers), needed for letters beyond Latin-1 such as Polish ł or
	// Lithuanian ė. Empty means the built-in font 0, which covers Latin-1 (Norwegian) only.
	ZPLFont string
	// Now dates the PDFs [time.Now]; with a fixed clock the same labels make the same bytes.
	Now func() time.Time
}

// validZPLFont accepts a printer font path such as E:TT0003M_.TTF: a drive letter, a name of
// capitals, digits and underscores, and .TTF or .FNT. Nothing else can end up inside a command.
func validZPLFont(s string) bool {
	drive, file, ok := strings.Cut(s, ":")
	name, ext, ok2 := strings.Cut(file, ".")
	return ok && ok2 && len(drive) == 1 && drive >= "A" && drive <= "Z" && (ext == "TTF" || ext == "FNT") &&
		len(name) >= 1 && len(name) <= 16 && strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}

// NewLabeler makes a labeler from its configuration.
func NewLabeler(cfg LabelConfig) (*Labeler, error) {
	sender := cfg.Sender
	if err := sender.Validate(); err != nil {
		return nil, fmt.Errorf("return address: %w", err)
	}
	if cfg.ZPLFont != "" && !validZPLFont(cfg.ZPLFont) {
		return nil, fmt.Errorf("ZPL font %q: want a printer font file such as E:TT0003M_.TTF", cfg.ZPLFont)
	}
	reg, err := newFace(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("load label font Go Regular: %w", err)
	}
	bold, err := newFace(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("load label font Go Bold: %w", err)
	}
	l := &Labeler{sender: sender, zplFont: cfg.ZPLFont, now: cfg.Now, regular: reg, bold: bold}
	if l.now == nil {
		l.now = time.Now
	}
	if _, err := l.layout(Label{Kind: LetterLabel, ID: "E100000001601", OrderID: "X", To: sender, Content: "X"}); err != nil {
		return nil, fmt.Errorf("return address: %w", err)
	}
	return l, nil
}

// face is a label font: its TrueType bytes for embedding and the advance of every printable rune,
// in em, for wrapping.
type face struct {
	ttf []byte
	adv map[rune]float64
}

func newFace(ttf []byte) (*face, error) {
	f, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, err
	}
	var buf sfnt.Buffer
	upm := fixed.I(int(f.UnitsPerEm()))
	adv := map[rune]float64{}
	for r := rune(0x20); r <= 0x2030; r++ {
		if !LabelRune(r) && r != '×' {
			continue
		}
		g, err := f.GlyphIndex(&buf, r)
		if err != nil || g == 0 {
			return nil, fmt.Errorf("font has no glyph for %q", r)
		}
		a, err := f.GlyphAdvance(&buf, g, upm, font.HintingNone)
		if err != nil {
			return nil, fmt.Errorf("advance of %q: %w", r, err)
		}
		adv[r] = float64(a) / float64(upm)
	}
	return &face{ttf: ttf, adv: adv}, nil
}

const ptMM = 25.4 / 72

// width of s in mm at size pt.
func (f *face) width(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		w += f.adv[r]
	}
	return w * size * ptMM
}

// Label geometry, in mm: a 4 × 6 in page, portrait.
const (
	labelW, labelH = 101.6, 152.4
	margin         = 5.0
	stampW, stampH = 28.0, 18.0
	minTextPt      = 8.0
	leading        = 1.2
)

// A run is one line of text: its top-left corner (mm), size (pt) and weight. A run with a width
// W is centred within X … X+W (each renderer centres with its own font's metrics).
type run struct {
	X, Y, W, Size float64
	Bold          bool
	Text          string
}

// A box is a rectangle in mm, filled or stroked with Line (mm) wide border.
type box struct {
	X, Y, W, H, Line float64
}

// A layout is one label placed on the page, ready for any renderer.
type layout struct {
	runs  []run
	boxes []box
	// The barcode: its data, top-left corner, module width and bar height (mm) and its modules
	// (true for a bar) as the Code 128 encoder gave them, check symbol included.
	code                 string
	codeX, codeY, module float64
	codeH                float64
	modules              []bool
}

// A field is one piece of text in a block; name names it in errors.
type field struct {
	name, text string
	bold       bool
	breakWords bool // ids may break anywhere; words of names and streets never
}

// fit lays out fields as lines top-down in the box (x, y, w, h), at the largest size from max down
// to minTextPt (or min, if smaller) at which all of them fit. It fails naming the field that cannot
// fit: a word wider than the box, or a field that runs past its bottom at the smallest size.
func (l *Labeler) fit(fields []field, x, y, w, h, max, min float64) ([]run, error) {
	var lastErr error
	for size := max; size >= min-1e-9; size -= 0.5 {
		lh := size * leading * ptMM
		var runs []run
		top := y
		lastErr = nil
		for _, f := range fields {
			fc := l.regular
			if f.bold {
				fc = l.bold
			}
			lines, err := wrap(fc, f, size, w)
			if err != nil {
				lastErr = err
				break
			}
			for _, ln := range lines {
				if top+lh > y+h+1e-9 {
					lastErr = &FieldError{Field: f.name, Rule: "label-space", Message: fmt.Sprintf("does not fit the label even at %.0f pt", min)}
					break
				}
				runs = append(runs, run{X: x, Y: top, Size: size, Bold: f.bold, Text: ln})
				top += lh
			}
			if lastErr != nil {
				break
			}
		}
		if lastErr == nil {
			return runs, nil
		}
	}
	return nil, lastErr
}

// wrap breaks f's text into lines no wider than w mm at size pt: greedily at spaces, and inside a
// word only for breakWords fields.
func wrap(fc *face, f field, size, w float64) ([]string, error) {
	for _, r := range f.text {
		if _, ok := fc.adv[r]; !ok {
			return nil, &FieldError{Field: f.name, Rule: "printable", Message: fmt.Sprintf("character %q (U+%04X) cannot be printed on a label", r, r)}
		}
	}
	var lines []string
	cur := ""
	for _, word := range strings.Fields(f.text) {
		for fc.width(word, size) > w {
			if !f.breakWords {
				return nil, &FieldError{Field: f.name, Rule: "word-length", Message: fmt.Sprintf("word %q is wider than the label even at %.0f pt", word, size)}
			}
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			n := 1 // the longest prefix that fits, at least one rune
			for i := range word {
				if i > 0 && fc.width(word[:i], size) <= w {
					n = i
				}
			}
			if n == 1 {
				_, n = utf8.DecodeRuneInString(word)
			}
			lines, word = append(lines, word[:n]), word[n:]
		}
		switch {
		case cur == "":
			cur = word
		case fc.width(cur+" "+word, size) <= w:
			cur += " " + word
		default:
			lines, cur = append(lines, cur), word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines, nil
}

// layout places every element of one label, or says which field does not fit.
func (l *Labeler) layout(lb Label) (*layout, error) {
	var errs []error
	if err := lb.To.Validate(); err != nil {
		errs = append(errs, err)
	}
	out := &layout{}
	add := func(runs []run, err error) {
		if err != nil {
			errs = append(errs, err)
		}
		out.runs = append(out.runs, runs...)
	}
	inner := labelW - 2*margin

	// Return address, top left; the postage mark, top right.
	s := l.sender
	add(l.fit([]field{
		{name: "sender.label", text: "Avsender / returadresse:"},
		{name: "sender.name", text: s.Name},
		{name: "sender.street", text: s.Street},
		{name: "sender.city", text: s.PostalCode + " " + s.City},
	}, margin, margin, inner-stampW-4, stampH, 8, 6))
	sx := labelW - margin - stampW
	out.boxes = append(out.boxes, box{X: sx, Y: margin, W: stampW, H: stampH, Line: 0.5})
	out.runs = append(out.runs, run{X: sx, Y: margin + 2.5, W: stampW, Size: 9, Bold: true, Text: "NORGE"},
		run{X: sx, Y: margin + 8, W: stampW, Size: 16, Bold: true, Text: "P.P."})
	out.boxes = append(out.boxes, box{X: margin, Y: margin + stampH + 3, W: inner, H: 0.4})

	// The recipient, as large as fits.
	to := []field{{name: "name", text: lb.To.Name, bold: true}}
	if lb.To.Attention != "" {
		to = append(to, field{name: "attention", text: "Att: " + lb.To.Attention})
	}
	to = append(to, field{name: "street", text: lb.To.Street},
		field{name: "city", text: lb.To.PostalCode + " " + lb.To.City, bold: true})
	add(l.fit(to, margin+2, 32, inner-2, 66, 14, minTextPt))

	// The id as Code 128, centred, with its text under it.
	bc, err := code128.Encode(lb.ID)
	if err != nil {
		errs = append(errs, fmt.Errorf("id %q: encode Code 128: %w", lb.ID, err))
	} else {
		n := bc.Bounds().Dx()
		out.modules = make([]bool, n)
		for i := range n {
			r, _, _, _ := bc.At(bc.Bounds().Min.X+i, bc.Bounds().Min.Y).RGBA()
			out.modules[i] = r == 0
		}
		out.module = 0.5 // 4 dots at 203 dpi; narrower only if a long id needs it
		for float64(n+20)*out.module > inner && out.module > 0.25 {
			out.module -= 0.125
		}
		out.code, out.codeH, out.codeY = lb.ID, 20, 102
		out.codeX = (labelW - float64(n)*out.module) / 2
		out.runs = append(out.runs, run{X: margin, Y: out.codeY + out.codeH + 1.5, W: inner, Size: 11, Text: lb.ID})
	}
	out.boxes = append(out.boxes, box{X: margin, Y: 131, W: inner, H: 0.4})

	// What is inside, and the order it belongs to.
	add(l.fit([]field{
		{name: "content", text: lb.Content, bold: true, breakWords: true},
		{name: "order_id", text: "Ordre " + lb.OrderID, breakWords: true},
	}, margin, 133, inner, labelH-margin-133, 11, 6))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("label %s: %w", lb.ID, err)
	}
	return out, nil
}

// Check reports whether lb can be printed, naming every field that cannot.
func (l *Labeler) Check(lb Label) error {
	_, err := l.layout(lb)
	return err
}
