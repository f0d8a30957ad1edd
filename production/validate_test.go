package production

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"
)

func testValidator(t testing.TB) *Validator {
	t.Helper()
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, cal.Zone())
	return &Validator{HolderSecret: []byte("test-secret"), Calendar: cal, Now: func() time.Time { return now }}
}

// sampleJSON is one valid two-card order, drawn once: photos are costly to draw under -race.
var sampleJSON = sync.OnceValue(func() []byte {
	m := NewSamples(1).Order(2, time.Date(2026, 11, 23, 9, 15, 0, 0, time.FixedZone("CET", 3600)))
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
})

// sampleMessage returns a fresh copy of the sample order, for a test to break.
func sampleMessage(t testing.TB) *OrderApproved {
	t.Helper()
	var m OrderApproved
	if err := json.Unmarshal(sampleJSON(), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestSampleOrdersAreValid(t *testing.T) {
	v := testValidator(t)
	s := NewSamples(7)
	for i := range 20 {
		m := s.Order(1+i%3, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
		o, ps := v.Validate(m)
		if ps != nil {
			t.Fatalf("sample order %d rejected: %v", i, ps)
		}
		if o.State != OrderAccepted || len(o.Cards) != len(m.Cards) {
			t.Fatalf("sample order %d: state %s, %d cards", i, o.State, len(o.Cards))
		}
		for _, c := range o.Cards {
			if c.Holder.Key == "" || len(c.Photo.JPEG) == 0 || c.Photo.Height <= c.Photo.Width {
				t.Fatalf("card not filled in: %+v", c.Holder)
			}
		}
	}
}

func pngPhoto(w, h int) string {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(1, 1, color.Black)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TestValidateRules breaks one rule at a time and checks that exactly that field and rule are
// reported.
func TestValidateRules(t *testing.T) {
	v := testValidator(t)
	cases := []struct {
		name  string
		edit  func(m *OrderApproved)
		field string
		rule  string
	}{
		{"org number check digit", func(m *OrderApproved) { m.Company.OrgNumber = "923609017" }, "company.org_number", "org-number"},
		{"org number length", func(m *OrderApproved) { m.Company.OrgNumber = "92360901" }, "company.org_number", "org-number"},
		{"org number letters", func(m *OrderApproved) { m.Company.OrgNumber = "92360901X" }, "company.org_number", "org-number"},
		{"national id first check digit", func(m *OrderApproved) { m.Cards[0].Holder.NationalID = flipDigit(m.Cards[0].Holder.NationalID, 9) }, "cards[0].holder.national_id", "national-id"},
		{"national id second check digit", func(m *OrderApproved) { m.Cards[0].Holder.NationalID = flipDigit(m.Cards[0].Holder.NationalID, 10) }, "cards[0].holder.national_id", "national-id"},
		{"national id short", func(m *OrderApproved) { m.Cards[0].Holder.NationalID = "1234567890" }, "cards[0].holder.national_id", "national-id"},
		{"national id vs birth date", func(m *OrderApproved) { m.Cards[1].Holder.BirthDate = "1955-01-01" }, "cards[1].holder.national_id", "national-id"},
		{"birth date format", func(m *OrderApproved) { m.Cards[0].Holder.BirthDate = "17.05.1990" }, "cards[0].holder.birth_date", "date"},
		{"given name empty", func(m *OrderApproved) { m.Cards[0].Holder.GivenName = "   " }, "cards[0].holder.given_name", "required"},
		{"given name control", func(m *OrderApproved) { m.Cards[0].Holder.GivenName = "Ola\x07" }, "cards[0].holder.given_name", "no-control"},
		{"given name bidi override", func(m *OrderApproved) { m.Cards[0].Holder.GivenName = "Ola\u202e" }, "cards[0].holder.given_name", "no-control"},
		{"family name too long", func(m *OrderApproved) { m.Cards[0].Holder.FamilyName = strings.Repeat("Å", 101) }, "cards[0].holder.family_name", "length"},
		{"family name invalid utf8", func(m *OrderApproved) { m.Cards[0].Holder.FamilyName = "Ha\xffkon" }, "cards[0].holder.family_name", "utf8"},
		{"name of combining marks only", func(m *OrderApproved) { m.Cards[0].Holder.FamilyName = "\u0301\u0308\u030a" }, "cards[0].holder.family_name", "name-letters"},
		{"name with digits", func(m *OrderApproved) { m.Cards[0].Holder.GivenName = "Ola2" }, "cards[0].holder.given_name", "name-letters"},
		// Letters the card's font cannot draw: a card with an empty box in the name is the wrong name.
		{"name the card cannot print", func(m *OrderApproved) { m.Cards[0].Holder.FamilyName = "Nguyễn" }, "cards[0].holder.family_name", "printable"},
		{"accent that NFC cannot fold", func(m *OrderApproved) { m.Cards[0].Holder.GivenName = "Ole̥" }, "cards[0].holder.given_name", "printable"},
		{"employer the card cannot print", func(m *OrderApproved) { m.Company.Name = "Səbinə Bygg AS" }, "company.name", "printable"},
		{"card type", func(m *OrderApproved) { m.CardType = "mining" }, "card_type", "one-of"},
		{"gender", func(m *OrderApproved) { m.Cards[0].Holder.Gender = "male" }, "cards[0].holder.gender", "one-of"},
		{"email", func(m *OrderApproved) { m.Orderer.Email = "kari at bygg" }, "orderer.email", "email"},
		{"email display name", func(m *OrderApproved) { m.Orderer.Email = "Kari <kari@bygg.no>" }, "orderer.email", "email"},
		{"email no dot", func(m *OrderApproved) { m.Orderer.Email = "kari@localhost" }, "orderer.email", "email"},
		{"postal code", func(m *OrderApproved) { m.DeliveryAddress.PostalCode = "155" }, "delivery_address.postal_code", "postal-code"},
		{"street missing", func(m *OrderApproved) { m.DeliveryAddress.Street = "" }, "delivery_address.street", "required"},
		{"country", func(m *OrderApproved) { m.DeliveryAddress.Country = "SE" }, "delivery_address.country", "country"},
		{"no cards", func(m *OrderApproved) { m.Cards = nil }, "cards", "required"},
		{"same person twice", func(m *OrderApproved) { m.Cards[1] = m.Cards[0] }, "cards[1].holder.national_id", "one-card-per-employment"},
		{"unknown sku", func(m *OrderApproved) { m.Accessories = []WireAccessory{{SKU: "hardhat", Quantity: 1}} }, "accessories[0].sku", "known-sku"},
		{"zero quantity", func(m *OrderApproved) { m.Accessories = []WireAccessory{{SKU: "cardholder", Quantity: 0}} }, "accessories[0].quantity", "quantity"},
		{"approved in future", func(m *OrderApproved) { m.ApprovedAt = "2027-01-01T00:00:00Z" }, "approved_at", "not-future"},
		{"approved_at format", func(m *OrderApproved) { m.ApprovedAt = "2026-11-23 09:15" }, "approved_at", "timestamp"},
		{"order id characters", func(m *OrderApproved) { m.OrderID = "A 1" }, "order_id", "order-id"},
		{"photo content type", func(m *OrderApproved) { m.Cards[0].Photo.ContentType = "image/gif" }, "cards[0].photo.content_type", "photo-format"},
		{"photo type mismatch", func(m *OrderApproved) { m.Cards[0].Photo.ContentType = "image/png" }, "cards[0].photo.content_type", "photo-format"},
		{"photo not base64", func(m *OrderApproved) { m.Cards[0].Photo.Data = "!!!" }, "cards[0].photo.data", "base64"},
		{"photo garbage", func(m *OrderApproved) {
			m.Cards[0].Photo.Data = base64.StdEncoding.EncodeToString([]byte("not an image at all"))
		}, "cards[0].photo.data", "photo-decode"},
		{"photo landscape", func(m *OrderApproved) { m.Cards[0].Photo = WirePhoto{"image/png", pngPhoto(800, 600)} }, "cards[0].photo.data", "photo-portrait"},
		{"photo too small", func(m *OrderApproved) { m.Cards[0].Photo = WirePhoto{"image/png", pngPhoto(150, 200)} }, "cards[0].photo.data", "photo-resolution"},
		{"photo too many pixels", func(m *OrderApproved) { m.Cards[0].Photo = WirePhoto{"image/png", pngPhoto(3000, 4100)} }, "cards[0].photo.data", "photo-pixels"},
		{"replaces_card check digit", func(m *OrderApproved) { s := "1000000010"; m.Cards[0].ReplacesCard = &s }, "cards[0].replaces_card", "card-number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := sampleMessage(t)
			c.edit(m)
			o, ps := v.Validate(m)
			if ps == nil {
				t.Fatal("accepted")
			}
			if o.State != OrderRejected || len(o.Cards) != 0 {
				t.Errorf("rejected order has state %s and %d cards", o.State, len(o.Cards))
			}
			found := false
			for _, p := range ps {
				if p.Field == c.field && p.Rule == c.rule {
					found = true
				}
				if p.Message == "" {
					t.Errorf("problem without message: %+v", p)
				}
			}
			if !found || len(ps) != 1 {
				t.Errorf("want exactly %s/%s, got %v", c.field, c.rule, ps)
			}
		})
	}
}

func TestValidateAcceptsEuropeanNames(t *testing.T) {
	v := testValidator(t)
	for _, name := range [][2]string{{"Øyvind", "Ødegård-Åsheim"}, {"Łukasz", "Wiśniewski"}, {"Žydrūnė", "Šimkutė"},
		{"Şükrü", "Yılmaz"}, {"Jürgen", "Strauß"}, {"Siobhán", "Ó Briain"}, {"Αλέξανδρος", "Παπαδόπουλος"}, {"Ольга", "Иванова"},
		{"Anne-Marie", "D’Arcy"}, {"J.", "Smith"}, {strings.Repeat("Æ", 100), "Hansen"}} {
		m := sampleMessage(t)
		m.Cards = m.Cards[:1]
		m.Cards[0].Holder.GivenName, m.Cards[0].Holder.FamilyName = name[0], name[1]
		o, ps := v.Validate(m)
		if ps != nil {
			t.Errorf("%s %s rejected: %v", name[0], name[1], ps)
			continue
		}
		if o.Cards[0].Holder.FamilyName != name[1] {
			t.Errorf("family name changed: %q → %q", name[1], o.Cards[0].Holder.FamilyName)
		}
	}
	// NFC: O + combining stroke is not Ø, but A + combining ring is Å.
	m := sampleMessage(t)
	m.Cards[0].Holder.FamilyName = "A\u030asheim  "
	o, ps := v.Validate(m)
	if ps != nil || o.Cards[0].Holder.FamilyName != "Åsheim" {
		t.Errorf("want NFC Åsheim, got %q %v", o.Cards[0].Holder.FamilyName, ps)
	}
}

func TestDecodeProblems(t *testing.T) {
	sample := sampleMessage(t)
	sample.Accessories = []WireAccessory{{SKU: "cardholder", Quantity: 2}}
	good, err := json.Marshal(sample)
	if err != nil {
		t.Fatal(err)
	}
	two := sampleMessage(t)
	two.Cards = append(two.Cards, two.Cards[0])
	two.Cards[0].Holder.Gender, two.Cards[1].Holder.Gender = "M", "F"
	twoCards, err := json.Marshal(two)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, payload, field, rule string
	}{
		{"malformed", `{"order_id": "A-1",`, "(message)", "json"},
		{"not json", `hello`, "(message)", "json"},
		{"empty", ``, "(message)", "json"},
		{"unknown field", strings.Replace(string(good), `"card_type"`, `"colour":"red","card_type"`, 1), "colour", "unknown-field"},
		{"wrong type", strings.Replace(string(good), `"quantity":2`, `"quantity":"2"`, 1), "accessories[0].quantity", "type"},
		{"wrong type in the second card", strings.Replace(string(twoCards), `"gender":"F"`, `"gender":7`, 1), "cards[1].holder.gender", "type"},
		{"wrong type of a whole card", strings.Replace(string(twoCards), `"cards":[{`, `"cards":[7,{`, 1), "cards[0]", "type"},
		{"trailing data", string(good) + `{}`, "(message)", "json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, ps := DecodeOrderApproved([]byte(c.payload))
			if m != nil || len(ps) != 1 || ps[0].Field != c.field || ps[0].Rule != c.rule {
				t.Errorf("got %v, want %s/%s", ps, c.field, c.rule)
			}
		})
	}
	if m, ps := DecodeOrderApproved(good); m == nil || ps != nil {
		t.Fatalf("good message: %v", ps)
	}
	if id := RecoverOrderID([]byte(`{"order_id":"A-9","cards":7}`)); id != "A-9" {
		t.Errorf("RecoverOrderID = %q", id)
	}
}

func FuzzDecodeAndValidate(f *testing.F) {
	good, _ := json.Marshal(sampleMessage(f))
	f.Add(good)
	f.Add([]byte(`{"order_id":"A-1","cards":[{"holder":{"national_id":"0"}}]}`))
	f.Add([]byte(`{"order_id":"A-1","cards":[{"photo":{"content_type":"image/png","data":"iVBORw0KGgo="}}]}`))
	f.Add([]byte(`[]`))
	v := testValidator(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ps := DecodeOrderApproved(data)
		_ = RecoverOrderID(data)
		if m == nil {
			if len(ps) == 0 {
				t.Fatal("no message and no problem")
			}
			return
		}
		o, ps := v.Validate(m)
		if (ps == nil) != (o.State == OrderAccepted) {
			t.Fatalf("state %s with problems %v", o.State, ps)
		}
	})
}

func flipDigit(s string, i int) string {
	b := []byte(s)
	b[i] = '0' + (b[i]-'0'+1)%10
	return string(b)
}

func TestCardNumbersAndExpiry(t *testing.T) {
	n, err := NewCardNumber(100000001)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCardNumber(string(n)); err != nil {
		t.Fatalf("own number %s does not parse: %v", n, err)
	}
	for i := range 10 { // every single-digit error is caught
		for d := byte('0'); d <= '9'; d++ {
			b := []byte(n)
			if b[i] == d {
				continue
			}
			b[i] = d
			if _, err := ParseCardNumber(string(b)); err == nil {
				t.Errorf("mistyped %s accepted", b)
			}
		}
	}
	if _, err := NewCardNumber(1_000_000_000); err == nil {
		t.Error("serial past 9 digits accepted")
	}
	oslo := testValidator(t).Calendar.Zone()
	for _, c := range []struct{ start, want string }{
		{"2026-11-23", "2028-11-22"}, {"2028-02-29", "2030-02-28"}, {"2027-03-01", "2029-02-28"}, {"2026-01-01", "2027-12-31"},
	} {
		s, _ := time.ParseInLocation(time.DateOnly, c.start, oslo)
		if got := ExpiryFor(s.Add(13*time.Hour), oslo).Format(time.DateOnly); got != c.want {
			t.Errorf("ExpiryFor(%s) = %s, want %s", c.start, got, c.want)
		}
	}
}
