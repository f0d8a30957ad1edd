package temporary

import (
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestValidUntil(t *testing.T) {
	for _, c := range []struct {
		name           string
		expiry, issued time.Time
		want           string
		known          bool
	}{
		{"production not started", time.Time{}, time.Date(2026, 11, 23, 23, 30, 0, 0, oslo), "2028-11-22", false},
		{"issued late in the evening UTC is the next day in Oslo", time.Time{}, time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC), "2028-11-23", false},
		{"issued on 29 February", time.Time{}, time.Date(2028, 2, 29, 12, 0, 0, 0, oslo), "2030-02-28", false},
		{"expiry known", time.Date(2028, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 12, 0, 0, 0, oslo), "2028-12-01", true},
	} {
		got, known := ValidUntil(c.expiry, c.issued, oslo)
		if got.Format(time.DateOnly) != c.want || known != c.known {
			t.Errorf("%s: %s (known %v), want %s (%v)", c.name, got.Format(time.DateOnly), known, c.want, c.known)
		}
	}
}

func TestCompose(t *testing.T) {
	a, b := sampleCard(t), sampleCard(t)
	b.CardNumber, b.GivenName, b.FamilyName = "1000000025", "Ola <b>&", "Nordmann"
	b.ValidUntil, b.ExpiryKnown = time.Date(2028, 12, 1, 0, 0, 0, 0, oslo), true
	o := Order{ID: a.OrderID, OrdererName: "Kari Nordmann", OrdererEmail: "kari@bygg.example", CompanyName: "Bygg & Rør AS", OrgNumber: "923609016",
		DispatchBy: time.Date(2026, 11, 27, 0, 0, 0, 0, oslo)}
	from := mail.Address{Name: "HMS-kort", Address: "hms-kort@cardline.example"}
	m := Compose(from, "id@cardline.example", o, []*Card{a, b}, [][]byte{[]byte("A"), []byte("B")}, false, time.Now())

	if m.To.Address != "kari@bygg.example" || m.MessageID != "id@cardline.example" || !strings.Contains(m.Subject, a.OrderID) {
		t.Errorf("header fields: %+v", m)
	}
	for _, s := range []string{"Bestillingen " + a.OrderID, "Order " + a.OrderID, "Kortene sendes senest 27.11.2026", "923 609 016",
		a.CardNumber + "  Øyvind Åsmund Ødegård-Åsheim", "valid at the latest 22.11.2028", b.CardNumber + "  Ola <b>& Nordmann", "valid at the latest 01.12.2028"} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("text lacks %q:\n%s", s, m.Text)
		}
	}
	if strings.Contains(m.HTML, "<b>&") || !strings.Contains(m.HTML, "Ola &lt;b&gt;&amp; Nordmann") || !strings.Contains(m.HTML, "Bygg &amp; Rør AS") {
		t.Errorf("HTML does not escape names:\n%s", m.HTML)
	}
	if strings.Contains(m.Text, "sent on request") {
		t.Error("first mail says it is a resend")
	}
	if len(m.Attachments) != 2 || m.Attachments[1].Name != "midlertidig-hms-kort-1000000025.pdf" || string(m.Attachments[1].Data) != "B" ||
		m.Attachments[1].ContentType != "application/pdf" {
		t.Errorf("attachments: %+v", m.Attachments)
	}
	if r := Compose(from, "id2@cardline.example", o, []*Card{a}, [][]byte{nil}, true, time.Now()); !strings.Contains(r.Text, "ny kopi") || !strings.Contains(r.HTML, "sent on request") {
		t.Error("resend does not say so")
	}
}

func TestNewMessageID(t *testing.T) {
	if got := NewMessageID("A-2026-0001234", KindAccepted, "00ff", "hms@cardline.example"); got != "temporary-card.A-2026-0001234.accepted.00ff@cardline.example" {
		t.Errorf("got %q", got)
	}
	if got := NewMessageID("A 1/<x>", KindResend, "01", "nobody"); got != "temporary-card.A_1__x_.resend.01@cardline.invalid" {
		t.Errorf("got %q", got)
	}
}

func TestBackoff(t *testing.T) {
	m := &Mailer{cfg: Config{MinBackoff: time.Second, MaxBackoff: time.Minute}}
	prev := time.Duration(0)
	for attempts := 1; attempts <= 12; attempts++ {
		d := m.backoff(attempts)
		if d < 800*time.Millisecond || d > 72*time.Second {
			t.Errorf("attempt %d: %s outside [0.8 s, 72 s]", attempts, d)
		}
		if attempts <= 5 && d < prev/2 {
			t.Errorf("attempt %d: %s shrank from %s", attempts, d, prev)
		}
		prev = d
	}
}
