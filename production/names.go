package production

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"cardline/printer"
)

// Name rules. A person's name is letters of any European script (Latin with every diacritic,
// Greek, Cyrillic …), combining marks, spaces, hyphens, apostrophes and full stops; it starts with
// a letter and holds at least one. Text is normalised to NFC, so "Ø" typed as O + U+0338 and as
// U+00D8 are the same name. Bounds are in characters (runes), not bytes.
const (
	MaxPersonNameRunes  = 100
	MaxCompanyNameRunes = 120
	MaxAddressRunes     = 100
)

// checkPersonName validates and normalises a given or family name.
func checkPersonName(s string) (string, *Problem) {
	n, p := checkText(s, MaxPersonNameRunes)
	if p != nil {
		return "", p
	}
	first, _ := utf8.DecodeRuneInString(n)
	if !unicode.IsLetter(first) {
		return "", &Problem{Rule: "name-letters", Message: "must start with a letter"}
	}
	for _, r := range n {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.Mn, r), unicode.Is(unicode.Mc, r):
		case r == ' ', r == '-', r == '\'', r == '’', r == '.':
		default:
			return "", &Problem{Rule: "name-letters", Message: fmt.Sprintf("must hold only letters, spaces, hyphens, apostrophes and full stops, not %q", r)}
		}
	}
	if p := checkPrintable(n); p != nil {
		return "", p
	}
	return n, nil
}

// checkPrintable is the rule for text printed on the card: every letter must be one the card's
// font can draw, or the card would show a name other than the holder's, with an empty box where
// the letter was (printer.Unprintable). The Go fonts cover Latin, Greek and Cyrillic.
func checkPrintable(n string) *Problem {
	if r, ok := printer.Unprintable(n); ok {
		return &Problem{Rule: "printable", Message: fmt.Sprintf("holds %q (U+%04X), which the card cannot print (its font covers Latin, Greek and Cyrillic letters); spell it as it may be printed, e.g. as in the holder's Norwegian ID", r, r)}
	}
	return nil
}

// checkText is the rule for any free text we print: valid UTF-8, trimmed, NFC, no control or
// format characters, not empty, at most max runes. Runs of spaces become one space.
func checkText(s string, max int) (string, *Problem) {
	if !utf8.ValidString(s) {
		return "", &Problem{Rule: "utf8", Message: "must be valid UTF-8"}
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", &Problem{Rule: "no-control", Message: fmt.Sprintf("must not contain control character U+%04X", r)}
		}
	}
	n := strings.Join(strings.Fields(norm.NFC.String(s)), " ")
	if n == "" {
		return "", &Problem{Rule: "required", Message: "must not be empty"}
	}
	if c := utf8.RuneCountInString(n); c > max {
		return "", &Problem{Rule: "length", Message: fmt.Sprintf("is %d characters, at most %d allowed", c, max)}
	}
	return n, nil
}
