package printer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"net/url"
	"strings"
	"time"
)

// The signed status URL is what the card's QR code (and the temporary card's) carries, so that an
// inspector's phone can ask the scheme about the card and a scanner can check offline that the
// code was issued by us. Its form is
//
//	BASE/CARDNUMBER?x=YYYYMMDD&s=SIGNATURE
//
// where BASE is the configured status base URL (e.g. https://status.example/k), x is the expiry
// date and SIGNATURE is the unpadded base64url Ed25519 signature (86 characters) over the bytes
//
//	"cardline-status-v1|" + CARDNUMBER + "|" + YYYYMMDD
//
// The prefix keeps these signatures from being valid for any other message signed with the same
// key. With a base of about 30 characters the URL is about 130 bytes: a version 8 QR code at
// error correction M (49 modules square).
const statusSigContext = "cardline-status-v1|"

// QRLevel is the error correction of every status QR code: M survives a scratched or dirty card
// (15 % of the code) while keeping the symbol small enough to scan from an arm's length.
const QRLevel = QRCorrectionM

// StatusURL returns the signed status URL for a card. base must be an absolute http(s) URL; a
// trailing slash is ignored.
func StatusURL(base string, key ed25519.PrivateKey, cardNumber string, expiry time.Time) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("status URL for card %s: base %q is not an absolute http(s) URL without query", cardNumber, base)
	}
	if !allDigits(cardNumber, 10) {
		return "", fmt.Errorf("status URL: card number %q is not 10 digits", cardNumber)
	}
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("status URL for card %s: signing key is %d bytes, want %d", cardNumber, len(key), ed25519.PrivateKeySize)
	}
	x := expiry.Format("20060102")
	sig := ed25519.Sign(key, statusMessage(cardNumber, x))
	return strings.TrimRight(base, "/") + "/" + cardNumber + "?x=" + x + "&s=" + base64.RawURLEncoding.EncodeToString(sig), nil
}

func statusMessage(cardNumber, yyyymmdd string) []byte {
	return []byte(statusSigContext + cardNumber + "|" + yyyymmdd)
}

// ErrBadStatusURL is wrapped by every error VerifyStatusURL returns: the URL is malformed or its
// signature does not hold, so the card is not one of ours (or was altered).
var ErrBadStatusURL = errors.New("bad status URL")

// VerifyStatusURL checks a scanned status URL against the public key and returns the card number
// and expiry date it vouches for (midnight UTC of that date). It does not check the base URL, so a
// checker that moved hosts still verifies old cards; nor does it check expiry against the clock,
// which is the caller's business.
func VerifyStatusURL(pub ed25519.PublicKey, raw string) (cardNumber string, expiry time.Time, err error) {
	bad := func(format string, args ...any) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("%w: %s", ErrBadStatusURL, fmt.Sprintf(format, args...))
	}
	if len(pub) != ed25519.PublicKeySize {
		return bad("public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad("%q is not an absolute http(s) URL", raw)
	}
	i := strings.LastIndexByte(u.Path, '/')
	if i < 0 {
		return bad("no card number in path %q", u.Path)
	}
	cardNumber = u.Path[i+1:]
	if !allDigits(cardNumber, 10) {
		return bad("card number %q is not 10 digits", cardNumber)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	if len(q["x"]) != 1 || len(q["s"]) != 1 || len(q) != 2 {
		return bad("query must hold exactly x and s once each")
	}
	x := q.Get("x")
	if !allDigits(x, 8) {
		return bad("expiry %q is not YYYYMMDD", x)
	}
	expiry, err = time.Parse("20060102", x)
	if err != nil {
		return bad("expiry %q: %v", x, err)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(q.Get("s"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad("signature is not %d bytes of unpadded base64url", ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, statusMessage(cardNumber, x), sig) {
		return bad("signature does not verify for card %s", cardNumber)
	}
	return cardNumber, expiry, nil
}

// ParseSigningKey reads an Ed25519 private key given as its 32-byte seed in hex (64 hex digits),
// the form of CARDLINE_QR_SIGNING_KEY.
func ParseSigningKey(hexSeed string) (ed25519.PrivateKey, error) {
	seed, err := hex.DecodeString(strings.TrimSpace(hexSeed))
	if err != nil {
		return nil, fmt.Errorf("parse QR signing key: not hex: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("parse QR signing key: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// QRModules returns the status QR code for content as a square of modules (true = dark), with no
// quiet zone: callers leave at least 4 light modules around it.
func QRModules(content string) ([][]bool, error) {
	sym, err := qrEncode([]byte(content), QRLevel, qrAutoMask)
	if err != nil {
		return nil, err
	}
	cells := make([]bool, len(sym.mods))
	for i, m := range sym.mods {
		cells[i] = m != 0
	}
	rows := make([][]bool, sym.size)
	for r := range rows {
		rows[r] = cells[r*sym.size : (r+1)*sym.size : (r+1)*sym.size]
	}
	return rows, nil
}

// QRImage renders the QR code for content with each module module×module pixels and a quiet zone
// of 4 modules, black on white. Whole-pixel modules keep the code crisp at any printer resolution
// that is a multiple of the image's.
func QRImage(content string, module int) (*image.Gray, error) {
	if module < 1 {
		return nil, fmt.Errorf("render QR code: module size %d px", module)
	}
	mods, err := QRModules(content)
	if err != nil {
		return nil, err
	}
	const quiet = 4
	side := (len(mods) + 2*quiet) * module
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range mods {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < module; dy++ {
				off := img.PixOffset((quiet+x)*module, (quiet+y)*module+dy)
				for dx := 0; dx < module; dx++ {
					img.Pix[off+dx] = 0
				}
			}
		}
	}
	return img, nil
}

// DevSigningKey returns the development key for status URLs: its seed is SHA-256 of a public
// string, so anyone can forge codes signed with it. It is for previews, tests and the demo only;
// production sets CARDLINE_QR_SIGNING_KEY.
func DevSigningKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("cardline development QR signing key: public, never for production"))
	return ed25519.NewKeyFromSeed(seed[:])
}
