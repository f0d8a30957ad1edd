package printer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

func TestStatusURLRoundTrip(t *testing.T) {
	key := ed25519.NewKeyFromSeed(testSeed[:])
	pub := key.Public().(ed25519.PublicKey)
	exp := time.Date(2028, 11, 23, 15, 4, 0, 0, time.FixedZone("CET", 3600))
	u, err := StatusURL(testBase+"/", key, "1000000017", exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, testBase+"/1000000017?x=20281123&s=") || len(u) != len(testBase)+1+10+14+86 {
		t.Fatalf("URL %q (%d chars)", u, len(u))
	}
	card, gotExp, err := VerifyStatusURL(pub, u)
	if err != nil || card != "1000000017" || !gotExp.Equal(time.Date(2028, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("VerifyStatusURL = %q, %v, %v", card, gotExp, err)
	}
	// A low-density code: version 8 at level M is 49 modules.
	if mods, err := QRModules(u); err != nil || len(mods) > 49 {
		t.Errorf("QR of %d chars is %d modules (%v), want at most 49", len(u), len(mods), err)
	}

	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	sig := u[strings.Index(u, "&s=")+3:]
	flipped := []byte(sig)
	flipped[10] ^= 1
	for name, bad := range map[string]struct {
		pub ed25519.PublicKey
		url string
	}{
		"other key":        {other, u},
		"other card":       {pub, strings.Replace(u, "1000000017", "1000000025", 1)},
		"later expiry":     {pub, strings.Replace(u, "x=20281123", "x=20301123", 1)},
		"flipped bit":      {pub, strings.Replace(u, sig, string(flipped), 1)},
		"padded signature": {pub, u + "=="},
		"extra parameter":  {pub, u + "&x=20301123"},
		"no signature":     {pub, u[:strings.Index(u, "&s=")]},
		"not a URL":        {pub, "1000000017"},
		"ftp":              {pub, strings.Replace(u, "https:", "ftp:", 1)},
		"bad date":         {pub, strings.Replace(u, "x=20281123", "x=20281323", 1)},
	} {
		if _, _, err := VerifyStatusURL(bad.pub, bad.url); !errors.Is(err, ErrBadStatusURL) {
			t.Errorf("%s: err = %v, want ErrBadStatusURL", name, err)
		}
	}
	for _, base := range []string{"", "status.example/k", "https://", "https://x.example/k?a=1", "ftp://x.example"} {
		if _, err := StatusURL(base, key, "1000000017", exp); err == nil {
			t.Errorf("StatusURL accepted base %q", base)
		}
	}
}

// TestQRDecodesFromRenderedCard reads the QR code off the rendered 300 dpi back with two
// decoders that share no code with the encoder (gozxing in Go, zbarimg from Debian's zbar-tools)
// and checks the signature of what they read.
func TestQRDecodesFromRenderedCard(t *testing.T) {
	f := SampleFace(Cleaning)
	_, back := testFaces(t, f)
	pub := ed25519.NewKeyFromSeed(testSeed[:]).Public().(ed25519.PublicKey)
	check := func(decoder, text string) {
		t.Helper()
		card, exp, err := VerifyStatusURL(pub, text)
		if err != nil {
			t.Fatalf("%s read %q: %v", decoder, text, err)
		}
		if card != f.CardNumber || exp.Format("2006-01-02") != f.Expiry.Format("2006-01-02") || !strings.HasPrefix(text, testBase+"/") {
			t.Fatalf("%s read card %s expiry %v from %q", decoder, card, exp, text)
		}
	}

	bmp, err := gozxing.NewBinaryBitmapFromImage(back)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("gozxing cannot read the QR code on the back: %v", err)
	}
	check("gozxing", res.GetText())

	if _, err := exec.LookPath("zbarimg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg (zbar-tools) missing in CI")
		}
		t.Skip("zbarimg not installed")
	}
	p := filepath.Join(t.TempDir(), "back.png")
	var buf bytes.Buffer
	if err := EncodePNG(&buf, back); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", p).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	check("zbarimg", strings.TrimSpace(string(out)))
}

func TestParseSigningKey(t *testing.T) {
	k, err := ParseSigningKey(strings.Repeat("01", 32))
	if err != nil || !bytes.Equal(k.Seed(), bytes.Repeat([]byte{1}, 32)) {
		t.Fatalf("ParseSigningKey = %x, %v", k, err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("01", 31), strings.Repeat("01", 64)} {
		if _, err := ParseSigningKey(bad); err == nil {
			t.Errorf("ParseSigningKey(%q) accepted", bad)
		}
	}
}

// FuzzVerifyStatusURL: whatever is scanned, verification never panics, and what it accepts is
// exactly what signing that card and expiry gives.
func FuzzVerifyStatusURL(f *testing.F) {
	key := ed25519.NewKeyFromSeed(testSeed[:])
	good, _ := StatusURL(testBase, key, "1000000017", time.Date(2028, 11, 23, 0, 0, 0, 0, time.UTC))
	f.Add(good)
	f.Add(strings.Replace(good, "x=", "x=%00", 1))
	f.Add("https://a/1000000017?x=20281123&s=")
	f.Add("http://[::1]:80/%zz?x=1&s=2")
	f.Fuzz(func(t *testing.T, raw string) {
		card, exp, err := VerifyStatusURL(key.Public().(ed25519.PublicKey), raw)
		if err != nil {
			if !errors.Is(err, ErrBadStatusURL) {
				t.Fatalf("error not wrapping ErrBadStatusURL: %v", err)
			}
			return
		}
		// Ed25519 signatures are deterministic: an accepted URL carries exactly the signature we
		// would issue for its card and expiry (the base and the query's spelling may vary).
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted unparsable %q", raw)
		}
		want, err := StatusURL("https://status.example", key, card, exp)
		if err != nil {
			t.Fatal(err)
		}
		wu, _ := url.Parse(want)
		if u.Query().Get("s") != wu.Query().Get("s") || u.Host == "" {
			t.Fatalf("accepted %q, which is not what we sign for %s/%v: %q", raw, card, exp, want)
		}
	})
}
