package shipping

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// A CardIdentifier tells which card number a scan off a physical card names. The QR payload is
// the printer package's signed status URL (its VerifyStatusURL checks the signature and yields the
// number); a chip UID is looked up in the store's chip records, which know the one good chip of
// each card (a voided chip names no card and must be an error).
type CardIdentifier interface {
	CardFromQR(ctx context.Context, payload string) (string, error)
	CardFromChipUID(ctx context.Context, uid string) (string, error)
}

// A MismatchError is a card put in the wrong envelope. It is refused loudly: the envelope does not
// count as packed, and the message names both card numbers so the packer can find the right one.
type MismatchError struct {
	Envelope    EnvelopeID
	EnvelopeFor string // the card the envelope is addressed for
	Scanned     string // the card that was scanned
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("WRONG CARD: envelope %s is for card %s, but the card scanned is %s — do not pack it", e.Envelope, e.EnvelopeFor, e.Scanned)
}

// ErrMismatch is what every *MismatchError matches with errors.Is.
var ErrMismatch = errors.New("card does not match envelope")

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// MatchEnvelope is the packing check: the envelope label's barcode and the card's QR code (a URL)
// or chip UID (hex) must name the same card before the envelope counts as packed. It returns the
// matched card number, a *MismatchError for a different card, or an error saying what could not
// be read. Arguments given the wrong way round are caught and said so.
func MatchEnvelope(ctx context.Context, envelope, scan string, cards CardIdentifier) (string, error) {
	envelope, scan = strings.TrimSpace(envelope), strings.TrimSpace(scan)
	id, err := ParseEnvelopeID(envelope)
	if err != nil {
		if _, e2 := ParseEnvelopeID(scan); e2 == nil {
			return "", fmt.Errorf("match envelope: first the envelope label, then the card: %q is an envelope id and %q is not", scan, envelope)
		}
		return "", fmt.Errorf("match envelope: %w", err)
	}
	var card string
	switch kind := scanKind(scan); kind {
	case "qr":
		card, err = cards.CardFromQR(ctx, scan)
	case "uid":
		card, err = cards.CardFromChipUID(ctx, strings.ToUpper(scan))
	default:
		return "", fmt.Errorf("match envelope %s: scan %q is neither a card QR code (status URL) nor a chip UID (8, 14 or 20 hex digits)", id, scan)
	}
	if err != nil {
		return "", fmt.Errorf("match envelope %s: identify card from scan %q: %w", id, scan, err)
	}
	if card != id.Card() {
		return "", &MismatchError{Envelope: id, EnvelopeFor: id.Card(), Scanned: card}
	}
	return card, nil
}

// scanKind tells a QR payload (a status URL) from a chip UID (4, 7 or 10 bytes in hex, as PC/SC
// readers report them).
func scanKind(s string) string {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return "qr"
	}
	switch len(s) {
	case 8, 14, 20:
		if strings.Trim(strings.ToUpper(s), "0123456789ABCDEF") == "" {
			return "uid"
		}
	}
	return ""
}
