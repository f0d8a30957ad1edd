package temporary

import (
	"bytes"
	"crypto/ed25519"
	"image/jpeg"
	"testing"
	"time"

	"cardline/printer"
	"cardline/production"
)

// testKey signs the status URLs of the tests' cards.
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

const testStatusBase = "https://status.hms.example/k"

var oslo = mustZone("Europe/Oslo")

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// samplePhoto is a synthetic portrait as intake stores it.
func samplePhoto(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, printer.SamplePortrait(600, 800), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sampleCard is a temporary card with Norwegian letters, before production started.
func sampleCard(t testing.TB) *Card {
	t.Helper()
	issued := time.Date(2026, 11, 23, 10, 30, 0, 0, oslo)
	until, known := ValidUntil(time.Time{}, issued, oslo)
	url, err := printer.StatusURL(testStatusBase, testKey, "1000000017", until)
	if err != nil {
		t.Fatal(err)
	}
	return &Card{
		CardType:    production.Construction,
		CardNumber:  "1000000017",
		GivenName:   "Øyvind Åsmund",
		FamilyName:  "Ødegård-Åsheim",
		BirthDate:   time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC),
		OrgName:     "Bygg og Rør AS",
		OrgNumber:   "923609016",
		OrderID:     "A-2026-0001234",
		Issued:      issued,
		ValidUntil:  until,
		ExpiryKnown: known,
		PhotoJPEG:   samplePhoto(t),
		StatusURL:   url,
	}
}
