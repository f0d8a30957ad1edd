package shipping

import (
	"strings"
	"testing"
	"time"
)

func TestLabelIDs(t *testing.T) {
	id, err := NewEnvelopeID("1234567897", 7)
	if err != nil || id != "E123456789707" || id.Card() != "1234567897" {
		t.Fatalf("NewEnvelopeID = %q, %v; card %q", id, err, id.Card())
	}
	if p, err := NewParcelID("1234567897", 12); err != nil || p != "P123456789712" {
		t.Fatalf("NewParcelID = %q, %v", p, err)
	}
	for _, tc := range []struct{ in, err string }{
		{"E123456789707", ""},
		{"E123456789700", "sequence 00"},
		{"E123456789807", "Luhn"},
		{"E12345678970", "not an envelope id"},
		{"e123456789707", "not an envelope id"},
		{"E12345678970x", "not an envelope id"},
		{"P123456789707", "parcel label"},
		{"https://hms.example/c/1234567897", "not an envelope id"},
	} {
		_, err := ParseEnvelopeID(tc.in)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseEnvelopeID(%q) = %v, want error containing %q", tc.in, err, tc.err)
		}
	}
	if _, err := ParseParcelID("P123456789712"); err != nil {
		t.Errorf("ParseParcelID: %v", err)
	}
	for _, seq := range []int{0, 100} {
		if _, err := NewEnvelopeID("1234567897", seq); err == nil {
			t.Errorf("NewEnvelopeID(seq %d): no error", seq)
		}
	}
	if _, err := NewEnvelopeID("1234567890", 1); err == nil {
		t.Error("NewEnvelopeID with a wrong check digit: no error")
	}
	z := oslo(t)
	if b := NewBatchID(time.Date(2026, 11, 23, 15, 0, 0, 0, z)); b != "B20261123-1500" {
		t.Errorf("NewBatchID = %s", b)
	}
}

// FuzzParseEnvelopeID: whatever a scanner sends, parsing never panics, and an accepted id is
// exactly the one NewEnvelopeID makes for its card and sequence.
func FuzzParseEnvelopeID(f *testing.F) {
	for _, s := range []string{"E123456789707", "E100000001601", "P123456789707", "E123456789700", "E1234567897070", "", "E", "EÆ23456789707"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEnvelopeID(s)
		if err != nil {
			return
		}
		seq := int(s[11]-'0')*10 + int(s[12]-'0')
		again, err := NewEnvelopeID(id.Card(), seq)
		if err != nil || again != id || string(id) != s {
			t.Fatalf("ParseEnvelopeID(%q) = %q; NewEnvelopeID(%s, %d) = %q, %v", s, id, id.Card(), seq, again, err)
		}
	})
}
