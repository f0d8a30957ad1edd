package temporary

import (
	"fmt"
	"strings"
	"time"

	"cardline/production"
)

// A Card is everything one temporary HSE card shows, as plain values. It stands in for the plastic
// card until that arrives, so it carries the same identity (photo, name, birth date, employer, card
// number) and the same kind of signed status QR code, and it says how long it may be used: see
// ValidUntil.
type Card struct {
	CardType   production.CardType
	CardNumber string
	GivenName  string
	FamilyName string
	BirthDate  time.Time
	OrgName    string
	OrgNumber  string
	OrderID    string
	// Issued is when the temporary card was issued: when its mail was first recorded, so every
	// attempt and every rendering of one mail prints the same date.
	Issued time.Time
	// ValidUntil is the last day the temporary card may be used (see ValidUntil).
	ValidUntil time.Time
	// ExpiryKnown says ValidUntil is the plastic card's own expiry (production has started) rather
	// than the bound computed from Issued.
	ExpiryKnown bool
	// PhotoJPEG is the portrait as stored by intake (re-encoded by us, so safe to embed as is).
	PhotoJPEG []byte
	// StatusURL is the signed status URL the QR code carries (printer.StatusURL over CardNumber and
	// ValidUntil).
	StatusURL string
}

// ValidUntil is the rule for the last day a temporary card may be used. The temporary card is valid
// until the physical card is received, and never after the physical card's expiry. Once production
// has started the card's expiry is known and is the bound. Before that it is not known yet, but it
// cannot be earlier than production.ExpiryFor(issued): production starts on or after the day the
// temporary card is issued, and the two-year clock starts with production. So that date is the
// latest day the temporary card can be valid without ever outliving the plastic card.
func ValidUntil(cardExpiry, issued time.Time, zone *time.Location) (until time.Time, expiryKnown bool) {
	if !cardExpiry.IsZero() {
		y, m, d := cardExpiry.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, zone), true
	}
	return production.ExpiryFor(issued, zone), false
}

// FullName is given name then family name, as on the card.
func (c *Card) FullName() string { return c.GivenName + " " + c.FamilyName }

// FileName is the name of the card's PDF attachment: named by card number, so an orderer with many
// cards finds each worker's by the number in the mail.
func (c *Card) FileName() string { return "midlertidig-hms-kort-" + c.CardNumber + ".pdf" }

// typeWords is what a temporary card says about the card type, Norwegian then English, as on the
// plastic card.
func typeWords(t production.CardType) (nb, en string) {
	switch t {
	case production.Construction:
		return "Bygg og anlegg", "Construction"
	case production.Cleaning:
		return "Renhold", "Cleaning"
	case production.Transport:
		return "Transport", "Goods transport"
	}
	return string(t), string(t)
}

// bandColour is the card type's colour band, the same as the plastic card's: amber, green, blue.
func bandColour(t production.CardType) (r, g, b int, darkText bool) {
	switch t {
	case production.Construction:
		return 0xf2, 0x8c, 0x00, true
	case production.Cleaning:
		return 0x1b, 0x7a, 0x3a, false
	default:
		return 0x1f, 0x3f, 0x8f, false
	}
}

// date formats a calendar date the Norwegian way (dd.mm.yyyy), which English readers in Norway
// also read without doubt; ISO dates sit next to it where a machine may read the text.
func date(t time.Time) string { return t.Format("02.01.2006") }

// orgNumber groups an organisation number as Brønnøysund prints it: 923 609 016.
func orgNumber(s string) string {
	if len(s) != 9 {
		return s
	}
	return s[:3] + " " + s[3:6] + " " + s[6:]
}

// check returns what makes a card unprintable, or nil.
func (c *Card) check() error {
	var probs []string
	if len(c.CardNumber) != 10 {
		probs = append(probs, fmt.Sprintf("card number %q is not 10 digits", c.CardNumber))
	}
	if strings.TrimSpace(c.GivenName+c.FamilyName) == "" {
		probs = append(probs, "holder name is empty")
	}
	if len(c.PhotoJPEG) == 0 {
		probs = append(probs, "photo is missing (deleted after dispatch?)")
	}
	if c.StatusURL == "" {
		probs = append(probs, "status URL is missing")
	}
	if c.Issued.IsZero() || c.ValidUntil.IsZero() || c.BirthDate.IsZero() {
		probs = append(probs, "a date is missing")
	}
	if len(probs) > 0 {
		return fmt.Errorf("temporary card %s: %s", c.CardNumber, strings.Join(probs, "; "))
	}
	return nil
}
