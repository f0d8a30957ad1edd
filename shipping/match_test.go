package shipping

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"cardline/printer"
)

// fakeCards reads a card number from the path of a status URL (signature checking is the printer
// package's) and looks chip UIDs up in a map.
type fakeCards map[string]string

func (f fakeCards) CardFromQR(_ context.Context, payload string) (string, error) {
	rest, ok := strings.CutPrefix(payload, "https://hms.example/c/")
	if !ok || len(rest) < 10 {
		return "", errors.New("not a status URL of ours")
	}
	if strings.Contains(rest, "sig=bad") {
		return "", errors.New("signature does not verify")
	}
	return rest[:10], nil
}

func (f fakeCards) CardFromChipUID(_ context.Context, uid string) (string, error) {
	if c, ok := f[uid]; ok {
		return c, nil
	}
	return "", errors.New("chip is void or unknown")
}

func TestMatchEnvelope(t *testing.T) {
	cards := fakeCards{"04A1B2C3D4E5F6": "1234567897", "DEADBEEF": "1000000016"}
	ctx := context.Background()
	for _, tc := range []struct {
		name, envelope, scan string
		err                  string // "" for a match
		mismatch             bool
	}{
		{"QR of the right card", "E123456789701", "https://hms.example/c/1234567897?sig=ok", "", false},
		{"chip UID of the right card, lower case", "E123456789701", "04a1b2c3d4e5f6", "", false},
		{"QR of another card", "E123456789701", "https://hms.example/c/1000000016?sig=ok", "WRONG CARD: envelope E123456789701 is for card 1234567897, but the card scanned is 1000000016", true},
		{"chip of another card", "E100000001601", "04A1B2C3D4E5F6", "is for card 1000000016, but the card scanned is 1234567897", true},
		{"forged QR", "E123456789701", "https://hms.example/c/1234567897?sig=bad", "signature does not verify", false},
		{"void chip", "E123456789701", "0BADC0DE", "chip is void or unknown", false},
		{"scanned the wrong way round", "https://hms.example/c/1234567897", "E123456789701", "first the envelope label, then the card", false},
		{"parcel label", "P123456789701", "https://hms.example/c/1234567897", "parcel label", false},
		{"garbage scan", "E123456789701", "hello", "neither a card QR code", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card, err := MatchEnvelope(ctx, tc.envelope, tc.scan, cards)
			if tc.err == "" {
				if err != nil || card == "" {
					t.Fatalf("MatchEnvelope = %q, %v; want a match", card, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("MatchEnvelope = %q, %v; want error containing %q", card, err, tc.err)
			}
			var me *MismatchError
			if errors.As(err, &me) != tc.mismatch || errors.Is(err, ErrMismatch) != tc.mismatch {
				t.Errorf("mismatch error = %v, want %v", errors.As(err, &me), tc.mismatch)
			}
		})
	}
}

// signedQR identifies cards through the printer package's real signed status URLs, as the scan
// command will.
type signedQR struct{ pub ed25519.PublicKey }

func (s signedQR) CardFromQR(_ context.Context, payload string) (string, error) {
	n, _, err := printer.VerifyStatusURL(s.pub, payload)
	return n, err
}

func (s signedQR) CardFromChipUID(context.Context, string) (string, error) {
	return "", errors.New("no chip records here")
}

func TestMatchEnvelopeSignedQR(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	expiry := time.Date(2028, 11, 22, 0, 0, 0, 0, time.UTC)
	qr := func(card string) string {
		u, err := printer.StatusURL("https://status.example/k", key, card, expiry)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	ctx := context.Background()
	if card, err := MatchEnvelope(ctx, "E123456789701", qr("1234567897"), signedQR{pub}); err != nil || card != "1234567897" {
		t.Errorf("right card: %q, %v", card, err)
	}
	if _, err := MatchEnvelope(ctx, "E123456789701", qr("1000000016"), signedQR{pub}); !errors.Is(err, ErrMismatch) {
		t.Errorf("other card: err = %v, want a mismatch", err)
	}
	// A QR altered to name the envelope's card fails its signature: not a match, and not a mismatch.
	forged := strings.Replace(qr("1000000016"), "1000000016", "1234567897", 1)
	if _, err := MatchEnvelope(ctx, "E123456789701", forged, signedQR{pub}); err == nil || errors.Is(err, ErrMismatch) || !errors.Is(err, printer.ErrBadStatusURL) {
		t.Errorf("forged QR: err = %v, want the printer's bad status URL", err)
	}
}
