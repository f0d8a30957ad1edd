package printer

import (
	"errors"
	"fmt"
	"image"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CardType is the kind of HSE card, which decides the blank stock and the colour band that tells
// the three apart at a glance. Only the three types of the scheme exist.
type CardType string

// The card types of the scheme.
const (
	Construction CardType = "construction"
	Cleaning     CardType = "cleaning"
	Transport    CardType = "transport"
)

// Face is everything printed on one card, as plain values: the printer stage does not import the
// card store. Text is UTF-8 and is normalised to NFC before it is drawn. Dates are calendar
// dates; their clock and zone are ignored (the date in the value's own location is printed).
//
// Photo is the holder's portrait, already decoded and checked at intake (portrait, at least about
// 300 × 400 px). It is cropped to the photo box's aspect around its centre, never stretched. Use
// DecodePhoto for the stored JPEG or PNG bytes.
type Face struct {
	CardType   CardType
	GivenName  string // up to MaxNameRunes
	FamilyName string // up to MaxNameRunes
	BirthDate  time.Time
	Expiry     time.Time
	OrgNumber  string // 9 digits
	OrgName    string // up to MaxOrgNameRunes
	CardNumber string // 10 digits, opaque here
	Photo      image.Image
}

// Bounds of the text a Face may carry. Longer text is refused rather than cut off, because a card
// that silently drops part of a name is a card with the wrong name.
const (
	MaxNameRunes    = 100
	MaxOrgNameRunes = 120
)

// ErrInvalidFace is wrapped by every error Validate returns.
var ErrInvalidFace = errors.New("invalid card face")

// Validate checks that the face can be printed: a known card type, digits where digits belong,
// names within bounds that hold at least one letter, dates set, and a photo. Intake has checked the
// card more strictly; this is the printer's own guard against printing nonsense.
func (f *Face) Validate() error {
	var probs []string
	if _, _, ok := f.CardType.words(); !ok {
		probs = append(probs, fmt.Sprintf("card type %q is not construction, cleaning or transport", f.CardType))
	}
	if !allDigits(f.CardNumber, 10) {
		probs = append(probs, fmt.Sprintf("card number %q is not 10 digits", f.CardNumber))
	}
	if !allDigits(f.OrgNumber, 9) {
		probs = append(probs, fmt.Sprintf("organisation number %q is not 9 digits", f.OrgNumber))
	}
	for _, t := range []struct {
		what, s string
		max     int
	}{{"given name", f.GivenName, MaxNameRunes}, {"family name", f.FamilyName, MaxNameRunes}, {"organisation name", f.OrgName, MaxOrgNameRunes}} {
		if p := checkPrintable(t.s, t.max); p != "" {
			probs = append(probs, t.what+" "+p)
		}
	}
	if f.BirthDate.IsZero() {
		probs = append(probs, "birth date is missing")
	}
	if f.Expiry.IsZero() {
		probs = append(probs, "expiry date is missing")
	}
	if f.Photo == nil || f.Photo.Bounds().Empty() {
		probs = append(probs, "photo is missing")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w for card %q: %s", ErrInvalidFace, f.CardNumber, strings.Join(probs, "; "))
	}
	return nil
}

// checkPrintable returns what is wrong with free text, or "". Text made only of combining marks,
// spaces or punctuation looks empty on the card and is refused.
func checkPrintable(s string, max int) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	n := norm.NFC.String(s)
	if c := utf8.RuneCountInString(n); c > max {
		return fmt.Sprintf("is %d characters, at most %d", c, max)
	}
	for _, r := range n {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("holds control character U+%04X", r)
		}
	}
	if r, ok := Unprintable(n); ok {
		return fmt.Sprintf("holds %q (U+%04X), which the card's font has no letter for", r, r)
	}
	for _, r := range n {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return ""
		}
	}
	return "holds no letter"
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// words is what the front says about the card type, Norwegian first as on the scheme's own
// cards, then English.
func (t CardType) words() (nb, en string, ok bool) {
	switch t {
	case Construction:
		return "BYGG OG ANLEGG", "Construction", true
	case Cleaning:
		return "RENHOLD", "Cleaning", true
	case Transport:
		return "TRANSPORT", "Goods transport", true
	}
	return "", "", false
}
