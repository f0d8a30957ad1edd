package production

import (
	"fmt"
	"strings"
	"time"
)

// An Order is one approved order as the line keeps it: one company, one delivery address, one card
// type, at least one card. An accepted order has its cards numbered and a dispatch deadline; a
// rejected order keeps every reason and no cards. The national ids of its holders are gone by the
// time an Order exists: only their HolderKeys remain.
type Order struct {
	ID           string
	ApprovedAt   time.Time
	CardType     CardType
	OrgNumber    string
	CompanyName  string
	OrdererName  string
	OrdererEmail string
	Address      Address
	Cards        []Card
	Accessories  []Accessory
	// DispatchBy is the date (midnight, Oslo) by the end of which the cards must have left.
	DispatchBy time.Time
	State      OrderState
	// Problems are the reasons an order was rejected; empty for an accepted order.
	Problems Problems
}

// A Card is one HSE card for one holder at one employer. Its Number is valid on exactly one good
// chip at a time; a spoiled card is remade under the same number on a new chip and the old chip is
// voided. Expiry is set when production starts (see ExpiryFor).
type Card struct {
	Number       CardNumber
	OrderID      string
	Holder       Holder
	Photo        Photo
	ReplacesCard CardNumber
	State        CardState
	Expiry       time.Time
}

// A Holder is the worker a card is for, as printed and encoded. Key stands in for the national id.
type Holder struct {
	Key        HolderKey
	GivenName  string
	FamilyName string
	BirthDate  time.Time
	Gender     Gender
}

// FullName is given name then family name, as on the card.
func (h Holder) FullName() string { return h.GivenName + " " + h.FamilyName }

// An Address is where all of an order's envelopes go: in Norway, with a 4-digit postal code.
type Address struct {
	Name       string
	Attention  string
	Street     string
	PostalCode string
	City       string
	Country    string
}

// storable returns o with every NUL in its text replaced by U+FFFD. A rejected order keeps what
// was sent, checked or not, and PostgreSQL's text and jsonb refuse NUL: storing it as sent would
// fail, and the rejection would never be stored or reported. (An accepted order's text passed
// the no-control rule.) The replacement still shows something was there.
func (o *Order) storable() *Order {
	fix := withoutNUL
	c := *o
	c.CardType = CardType(fix(string(o.CardType)))
	c.OrgNumber, c.CompanyName, c.OrdererName, c.OrdererEmail = fix(o.OrgNumber), fix(o.CompanyName), fix(o.OrdererName), fix(o.OrdererEmail)
	a := &c.Address
	a.Name, a.Attention, a.Street, a.PostalCode, a.City, a.Country = fix(a.Name), fix(a.Attention), fix(a.Street), fix(a.PostalCode), fix(a.City), fix(a.Country)
	c.Accessories = make([]Accessory, len(o.Accessories))
	for i, x := range o.Accessories {
		c.Accessories[i] = Accessory{SKU: fix(x.SKU), Quantity: x.Quantity}
	}
	c.Problems = o.Problems.storable()
	return &c
}

// storable is ps with every NUL replaced by U+FFFD (see Order.storable).
func (ps Problems) storable() Problems {
	out := make(Problems, len(ps))
	for i, p := range ps {
		out[i] = Problem{Field: withoutNUL(p.Field), Rule: withoutNUL(p.Rule), Message: withoutNUL(p.Message)}
	}
	return out
}

func withoutNUL(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }

// An Accessory is an extra product of a known SKU, shipped in the order's own parcel.
type Accessory struct {
	SKU      string
	Quantity int
}

// AccessoryName is the name of a product the line can pack, and false for an unknown SKU.
func AccessoryName(sku string) (string, bool) {
	switch sku {
	case "cardholder":
		return "Card holder, clear plastic", true
	case "cardholder-yoyo":
		return "Card holder with retractable reel", true
	case "lanyard":
		return "Lanyard", true
	}
	return "", false
}

// CardType names the blank stock and the scheme a card belongs to.
type CardType string

// The card types of the scheme. A cleaning card is also valid on construction sites.
const (
	Construction CardType = "construction"
	Cleaning     CardType = "cleaning"
	Transport    CardType = "transport"
)

// Valid reports whether t is one of the scheme's card types.
func (t CardType) Valid() bool { return t == Construction || t == Cleaning || t == Transport }

// Gender is how the chip's industry coding records it: M, F or X (unspecified).
type Gender string

// Valid reports whether g is one of the allowed codes.
func (g Gender) Valid() bool { return g == "M" || g == "F" || g == "X" }

// ExpiryFor is the expiry date of a card whose production starts at start: two years, to the day
// before the same date two years later (a card started on 2026-11-23 expires at the end of
// 2028-11-22; one started on 29 February expires on 28 February). Dates are taken in Oslo. A card is
// never valid longer than two years, and production starts the clock, not the order.
func ExpiryFor(start time.Time, zone *time.Location) time.Time {
	y, m, d := start.In(zone).Date()
	if m == time.February && d == 29 {
		d = 28 // so AddDate does not roll into March
		return time.Date(y+2, m, d, 0, 0, 0, 0, zone)
	}
	return time.Date(y+2, m, d, 0, 0, 0, 0, zone).AddDate(0, 0, -1)
}

// A Problem is one broken rule: the field (a JSON path such as cards[0].holder.national_id), the
// rule's short name, and a sentence for people.
type Problem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s (%s)", p.Field, p.Message, p.Rule) }

// Problems are all the reasons an order is rejected.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}
