package shipping

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Label text bounds, in characters (runes). Intake (production) accepts address fields of up to 100
// characters; these are the same bounds, plus the one a label adds: no single word may be longer
// than MaxLabelWordRunes, because a word is never broken inside and must fit one line of the
// narrowest label text (8 pt across a 4 in label, with the widest letters).
const (
	MaxNameRunes      = 100
	MaxAttentionRunes = 100
	MaxStreetRunes    = 100
	MaxCityRunes      = 40
	MaxLabelWordRunes = 30
)

// An Address is a delivery (or return) address as it goes on a label: a recipient name, an
// optional attention line (a person or department at the recipient), one street line, a Norwegian
// 4-digit postal code, a city, and country NO (cards are delivered in Norway only, so the country
// is not printed). Validate states what a label needs: every text field printable with the label
// fonts (Latin-1 and Latin Extended-A, which covers Norwegian, Polish and Lithuanian), already
// trimmed with single spaces, within the bounds above. A label never truncates a field: an address
// that passes Validate always fits one, and one that does not is refused with the field and rule.
type Address struct {
	Name       string
	Attention  string // optional
	Street     string
	PostalCode string
	City       string
	Country    string
}

// A FieldError is one rule an address breaks, named so that intake can report it upstream and
// logistics can see it: Field is the address field (name, attention, street, postal_code, city,
// country), Rule a short rule name, Message a sentence for people.
type FieldError struct {
	Field   string
	Rule    string
	Message string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.Field, e.Message, e.Rule)
}

// Validate checks that a can be printed on a label without truncation. It returns every broken
// rule, joined (errors.Join of *FieldError; use FieldErrors to list them), or nil.
func (a Address) Validate() error {
	var errs []error
	add := func(field, rule, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	text := func(field, v string, max int, required bool) {
		if v == "" {
			if required {
				add(field, "required", "must not be empty")
			}
			return
		}
		if err := checkLabelText(v, max); err != nil {
			err.Field = field
			errs = append(errs, err)
		}
	}
	text("name", a.Name, MaxNameRunes, true)
	text("attention", a.Attention, MaxAttentionRunes, false)
	text("street", a.Street, MaxStreetRunes, true)
	if len(a.PostalCode) != 4 || strings.Trim(a.PostalCode, "0123456789") != "" {
		add("postal_code", "postal-code", "must be a 4-digit Norwegian postal code, not %q", a.PostalCode)
	}
	text("city", a.City, MaxCityRunes, true)
	if a.Country != "NO" {
		add("country", "country", "must be NO: cards are delivered in Norway only, not %q", a.Country)
	}
	return errors.Join(errs...)
}

// FieldErrors lists the *FieldError values inside an error returned by Validate (or by a label
// renderer), in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		walk(errors.Unwrap(e))
	}
	walk(err)
	return out
}

// checkLabelText is the rule for any text printed on a label; Field is left for the caller.
func checkLabelText(v string, max int) *FieldError {
	if !utf8.ValidString(v) {
		return &FieldError{Rule: "utf8", Message: "must be valid UTF-8"}
	}
	for _, r := range v {
		if !LabelRune(r) {
			return &FieldError{Rule: "printable", Message: fmt.Sprintf("character %q (U+%04X) cannot be printed on a label (letters of Latin-1 and Latin Extended-A only; text must be NFC)", r, r)}
		}
	}
	if strings.Join(strings.Fields(v), " ") != v {
		return &FieldError{Rule: "spacing", Message: "must be trimmed, with single spaces between words"}
	}
	if n := utf8.RuneCountInString(v); n > max {
		return &FieldError{Rule: "length", Message: fmt.Sprintf("is %d characters, at most %d fit a label", n, max)}
	}
	for _, w := range strings.Fields(v) {
		if n := utf8.RuneCountInString(w); n > MaxLabelWordRunes {
			return &FieldError{Rule: "word-length", Message: fmt.Sprintf("word %q is %d characters, at most %d fit one label line (words are never broken)", w, n, MaxLabelWordRunes)}
		}
	}
	return nil
}

// LabelRune reports whether r can be printed on a label: printable Basic Latin, Latin-1 and Latin
// Extended-A (no soft hyphen), and the typographic dashes and quotes. The label fonts have a
// glyph for each of them (tested), and ZPL's ^CI28 passes them as UTF-8.
func LabelRune(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E:
		return true
	case r >= 0xA0 && r <= 0x17F:
		return r != 0xAD
	}
	return strings.ContainsRune("–—‘’‚“”„…", r)
}
