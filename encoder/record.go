package encoder

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Record is what the chip carries about one card, in the scheme's industry coding. Rule: a Record
// is encoded only after Validate: names and organisation name non-empty UTF-8 of at most MaxRunes
// runes (carried in full, never truncated), gender M, F or X, a 9-digit organisation number, a
// 10-digit card number (production's validated number, opaque here), dates present, expiry after
// birth, and a known card type.
type Record struct {
	GivenName  string
	FamilyName string
	BirthDate  time.Time // only the date counts
	Gender     string    // "M", "F" or "X"
	OrgNumber  string    // 9 digits
	OrgName    string
	CardNumber string    // 10 digits
	Expiry     time.Time // only the date counts
	CardType   string    // "construction", "cleaning" or "transport"
}

// MaxRunes bounds each name field. The scheme's names reach about 100 runes; twice that still fits
// the chip (3 fields × 200 runes × 4 bytes < the 3,360 bytes of data sectors).
const MaxRunes = 200

// cardTypeCode is the one-byte code of a card type on the chip.
func cardTypeCode(t string) (byte, bool) {
	switch t {
	case "construction":
		return 1, true
	case "cleaning":
		return 2, true
	case "transport":
		return 3, true
	}
	return 0, false
}

// cardTypeName is the inverse of cardTypeCode.
func cardTypeName(c byte) (string, bool) {
	for _, t := range []string{"construction", "cleaning", "transport"} {
		if code, _ := cardTypeCode(t); code == c {
			return t, true
		}
	}
	return "", false
}

// ErrInvalidRecord means a Record breaks one of its rules.
var ErrInvalidRecord = errors.New("invalid record")

// Validate returns every broken rule of r, joined, or nil.
func (r Record) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRecord}, args...)...))
	}
	for _, f := range []struct{ name, v string }{
		{"given name", r.GivenName}, {"family name", r.FamilyName}, {"organisation name", r.OrgName},
	} {
		switch {
		case f.v == "":
			bad("%s is empty", f.name)
		case !utf8.ValidString(f.v):
			bad("%s is not UTF-8", f.name)
		case utf8.RuneCountInString(f.v) > MaxRunes:
			bad("%s has more than %d runes", f.name, MaxRunes)
		}
	}
	if r.Gender != "M" && r.Gender != "F" && r.Gender != "X" {
		bad("gender %q is not M, F or X", r.Gender)
	}
	if !digits(r.OrgNumber, 9) {
		bad("organisation number %q is not 9 digits", r.OrgNumber)
	}
	if !digits(r.CardNumber, 10) {
		bad("card number %q is not 10 digits", r.CardNumber)
	}
	if r.BirthDate.IsZero() || r.BirthDate.Year() < 1900 {
		bad("birth date missing or before 1900")
	}
	if r.Expiry.IsZero() || r.Expiry.Year() > 9999 {
		bad("expiry date missing")
	} else if !dateOf(r.Expiry).After(dateOf(r.BirthDate)) {
		bad("expiry is not after birth date")
	}
	if _, ok := cardTypeCode(r.CardType); !ok {
		bad("card type %q is not construction, cleaning or transport", r.CardType)
	}
	return errors.Join(errs...)
}

func digits(s string, n int) bool {
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

// dateOf keeps the calendar date of t (in t's own location) at midnight UTC.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
