package production

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Order-level bounds.
const (
	MaxCardsPerOrder     = 500
	MaxAccessoryQuantity = 1000
	maxOrderIDRunes      = 64
	// approvalClockSkew is how far in the future approved_at may lie: upstream's clock and ours.
	approvalClockSkew = 10 * time.Minute
)

// Validator checks OrderApproved messages against the scheme's rules.
type Validator struct {
	// HolderSecret keys the HolderKey hash of national ids.
	HolderSecret []byte
	Calendar     *BusinessDays
	Now          func() time.Time
	// AddressRule, if set, adds a later stage's rule for the delivery address (shipping's: the
	// address must fit a label). It is given the address after the basic checks (trimmed, NFC,
	// city upper-cased) and returns problems whose Field is the address field (name, attention,
	// street, postal_code, city, country); they are reported as delivery_address.<field>. Fields
	// that already failed a basic check are not reported twice. Production cannot import the
	// stages after it, so the rule comes in here.
	AddressRule func(Address) Problems
}

// Validate checks every rule that can be checked without the store and returns the order ready to
// store (cards without numbers yet), or every problem found. It never stops at the first problem:
// upstream gets the whole list at once.
func (v *Validator) Validate(m *OrderApproved) (*Order, Problems) {
	var ps Problems
	add := func(field, rule, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	addP := func(field string, p *Problem) {
		if p != nil {
			p.Field = field
			ps = append(ps, *p)
		}
	}
	o := &Order{ID: m.OrderID}

	if err := checkOrderID(m.OrderID); err != nil {
		add("order_id", "order-id", "%v", err)
	}
	if at, err := time.Parse(time.RFC3339, m.ApprovedAt); err != nil {
		add("approved_at", "timestamp", "must be an RFC 3339 time with zone, e.g. 2026-11-23T09:15:00+01:00")
	} else if at.After(v.Now().Add(approvalClockSkew)) {
		add("approved_at", "not-future", "lies in the future (%s)", at.Format(time.RFC3339))
	} else {
		o.ApprovedAt = at
		o.DispatchBy = v.Calendar.DispatchBy(at)
	}
	o.CardType = CardType(m.CardType)
	if !o.CardType.Valid() {
		add("card_type", "one-of", "must be one of construction, cleaning, transport, not %q", m.CardType)
	}

	if err := checkOrgNumber(m.Company.OrgNumber); err != nil {
		add("company.org_number", "org-number", "%v", err)
	}
	o.OrgNumber = m.Company.OrgNumber
	var p *Problem
	o.CompanyName, p = checkText(m.Company.Name, MaxCompanyNameRunes)
	if p == nil {
		p = checkPrintable(o.CompanyName) // printed on the card as the employer
	}
	addP("company.name", p)

	o.OrdererName, p = checkText(m.Orderer.Name, MaxPersonNameRunes)
	addP("orderer.name", p)
	if email, err := checkEmail(m.Orderer.Email); err != nil {
		add("orderer.email", "email", "%v", err)
	} else {
		o.OrdererEmail = email
	}

	o.Address = v.checkAddress(m.DeliveryAddress, addP, add)

	if len(m.Cards) == 0 {
		add("cards", "required", "an order holds at least one card")
	}
	if len(m.Cards) > MaxCardsPerOrder {
		add("cards", "length", "an order holds at most %d cards, this one %d", MaxCardsPerOrder, len(m.Cards))
	}
	seen := map[HolderKey]int{}
	for i, wc := range m.Cards {
		if i >= MaxCardsPerOrder {
			break
		}
		c, cps := v.checkCard(wc, fmt.Sprintf("cards[%d]", i))
		ps = append(ps, cps...)
		if c.Holder.Key != "" {
			if j, dup := seen[c.Holder.Key]; dup {
				add(fmt.Sprintf("cards[%d].holder.national_id", i), "one-card-per-employment",
					"same person as cards[%d]: one card per person and employer", j)
			}
			seen[c.Holder.Key] = i
		}
		c.OrderID = o.ID
		c.State = CardQueued
		o.Cards = append(o.Cards, c)
	}

	skus := map[string]bool{}
	for i, a := range m.Accessories {
		f := fmt.Sprintf("accessories[%d]", i)
		if _, ok := AccessoryName(a.SKU); !ok {
			add(f+".sku", "known-sku", "unknown product %q", a.SKU)
		} else if skus[a.SKU] {
			add(f+".sku", "unique-sku", "product %q is listed twice", a.SKU)
		}
		skus[a.SKU] = true
		if a.Quantity < 1 || a.Quantity > MaxAccessoryQuantity {
			add(f+".quantity", "quantity", "must be between 1 and %d, not %d", MaxAccessoryQuantity, a.Quantity)
		}
		o.Accessories = append(o.Accessories, Accessory{SKU: a.SKU, Quantity: a.Quantity})
	}

	if len(ps) > 0 {
		o.State = OrderRejected
		o.Problems = ps
		o.Cards = nil
		return o, ps
	}
	o.State = OrderAccepted
	return o, nil
}

func (v *Validator) checkAddress(a WireAddress, addP func(string, *Problem), add func(string, string, string, ...any)) Address {
	var out Address
	failed := map[string]bool{} // fields that broke a basic check
	check := func(field string, p *Problem) {
		if p != nil {
			failed[field] = true
		}
		addP("delivery_address."+field, p)
	}
	var p *Problem
	out.Name, p = checkText(a.Name, MaxAddressRunes)
	check("name", p)
	if strings.TrimSpace(a.Attention) != "" {
		out.Attention, p = checkText(a.Attention, MaxAddressRunes)
		check("attention", p)
	}
	out.Street, p = checkText(a.Street, MaxAddressRunes)
	check("street", p)
	if len(a.PostalCode) != 4 || !allDigits(a.PostalCode) {
		failed["postal_code"] = true
		add("delivery_address.postal_code", "postal-code", "must be a 4-digit Norwegian postal code, not %q", a.PostalCode)
	}
	out.PostalCode = a.PostalCode
	out.City, p = checkText(a.City, 40)
	check("city", p)
	out.City = strings.ToUpper(out.City)
	if a.Country != "NO" {
		failed["country"] = true
		add("delivery_address.country", "country", "must be NO: cards are delivered in Norway, not %q", a.Country)
	}
	out.Country = "NO"
	if v.AddressRule != nil {
		for _, rp := range v.AddressRule(out) {
			if !failed[rp.Field] {
				failed[rp.Field] = true // one problem per field is enough to fix it
				add("delivery_address."+rp.Field, rp.Rule, "%s", rp.Message)
			}
		}
	}
	return out
}

func (v *Validator) checkCard(wc WireCard, f string) (Card, Problems) {
	var ps Problems
	add := func(field, rule, format string, args ...any) {
		ps = append(ps, Problem{Field: f + "." + field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	var c Card
	h := wc.Holder
	var p *Problem
	if c.Holder.GivenName, p = checkPersonName(h.GivenName); p != nil {
		add("holder.given_name", p.Rule, "%s", p.Message)
	}
	if c.Holder.FamilyName, p = checkPersonName(h.FamilyName); p != nil {
		add("holder.family_name", p.Rule, "%s", p.Message)
	}
	birth, err := time.Parse(time.DateOnly, h.BirthDate)
	switch {
	case err != nil:
		add("holder.birth_date", "date", "must be a date YYYY-MM-DD, not %q", h.BirthDate)
	case birth.After(v.Now()):
		add("holder.birth_date", "not-future", "lies in the future")
		birth = time.Time{}
	case v.Now().Year()-birth.Year() > 120:
		add("holder.birth_date", "plausible", "more than 120 years ago")
		birth = time.Time{}
	default:
		c.Holder.BirthDate = birth
	}
	if err := checkNationalID(h.NationalID, c.Holder.BirthDate); err != nil {
		add("holder.national_id", "national-id", "fødselsnummer or D-number %v", err)
	} else {
		c.Holder.Key = NewHolderKey(v.HolderSecret, h.NationalID)
	}
	c.Holder.Gender = Gender(h.Gender)
	if !c.Holder.Gender.Valid() {
		add("holder.gender", "one-of", "must be one of M, F, X, not %q", h.Gender)
	}
	img, pps := decodePhoto(wc.Photo.ContentType, wc.Photo.Data)
	for _, pp := range pps {
		add("photo."+pp.Field, pp.Rule, "%s", pp.Message)
	}
	if img != nil && len(ps) == 0 {
		photo, err := encodePhoto(img)
		if err != nil {
			add("photo.data", "photo-decode", "%v", err)
		}
		c.Photo = photo
	}
	if wc.ReplacesCard != nil {
		n, err := ParseCardNumber(*wc.ReplacesCard)
		if err != nil {
			add("replaces_card", "card-number", "%v", err)
		}
		c.ReplacesCard = n
	}
	return c, ps
}

// Order id rule: 1–64 characters of letters, digits, '-', '_', '.', '/' (upstream's ids look like
// A-2026-0001234). It keys everything, so it must survive logs, file names and URLs.
func checkOrderID(id string) error {
	if id == "" {
		return fmt.Errorf("is required")
	}
	if utf8.RuneCountInString(id) > maxOrderIDRunes {
		return fmt.Errorf("is longer than %d characters", maxOrderIDRunes)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r)
		if !ok {
			return fmt.Errorf("may hold only letters A–Z, digits and - _ . /, not %q", r)
		}
	}
	return nil
}

// checkEmail accepts a bare address (no display name) with a dotted domain.
func checkEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("must be a plain e-mail address like name@example.no, not %q", s)
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || len(s) > 254 {
		return "", fmt.Errorf("domain of %q is not a full domain name", s)
	}
	return s, nil
}
