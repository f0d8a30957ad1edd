package shipping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cardline/production"
)

// An EnvelopeID names one envelope and ties it to the one card inside: "E", the card's 10-digit
// number, and a 2-digit label sequence 01–99, e.g. E100000001601 for the first label of card
// 1000000016. A card gets a new sequence only when a label already made for it is voided (the card
// was spoiled at packing and remade), so an old label can never pass for the new one. The id is
// printed as Code 128 on the label and is what the envelope scan and the manifest name.
type EnvelopeID string

// A ParcelID names the parcel of an order's accessories: "P", the order's lowest card number and a
// 2-digit label sequence, e.g. P100000001601. It ties the parcel to the order through that card
// and has the same shape as an envelope id, so both scan and print alike.
type ParcelID string

const maxLabelSeq = 99

// NewEnvelopeID is the id of label seq (1–99) for card.
func NewEnvelopeID(card string, seq int) (EnvelopeID, error) {
	s, err := labelID('E', card, seq)
	return EnvelopeID(s), err
}

// NewParcelID is the id of label seq (1–99) of the parcel of the order whose lowest card number is
// card.
func NewParcelID(card string, seq int) (ParcelID, error) {
	s, err := labelID('P', card, seq)
	return ParcelID(s), err
}

// Card is the card number inside the envelope.
func (id EnvelopeID) Card() string { return string(id)[1:11] }

// ParseEnvelopeID checks the shape of an envelope id and the card number's check digit.
func ParseEnvelopeID(s string) (EnvelopeID, error) {
	if strings.HasPrefix(s, "P") {
		return "", fmt.Errorf("%q is a parcel label, not an envelope: parcels hold no card", s)
	}
	if _, _, err := parseLabelID('E', s); err != nil {
		return "", err
	}
	return EnvelopeID(s), nil
}

// ParseParcelID checks the shape of a parcel id.
func ParseParcelID(s string) (ParcelID, error) {
	if _, _, err := parseLabelID('P', s); err != nil {
		return "", err
	}
	return ParcelID(s), nil
}

func labelID(prefix byte, card string, seq int) (string, error) {
	if err := checkCardNumber(card); err != nil {
		return "", err
	}
	if seq < 1 || seq > maxLabelSeq {
		return "", fmt.Errorf("label sequence %d for card %s outside 1..%d", seq, card, maxLabelSeq)
	}
	return fmt.Sprintf("%c%s%02d", prefix, card, seq), nil
}

func parseLabelID(prefix byte, s string) (card string, seq int, err error) {
	kind := map[byte]string{'E': "envelope", 'P': "parcel"}[prefix]
	if len(s) != 13 || s[0] != prefix || strings.Trim(s[1:], "0123456789") != "" {
		return "", 0, fmt.Errorf("%q is not a%s %s id: want %c + 10-digit card number + 2-digit sequence", s, map[bool]string{true: "n"}[prefix == 'E'], kind, prefix)
	}
	card = s[1:11]
	if err := checkCardNumber(card); err != nil {
		return "", 0, fmt.Errorf("%s id %q: %w", kind, s, err)
	}
	seq, _ = strconv.Atoi(s[11:])
	if seq < 1 {
		return "", 0, fmt.Errorf("%s id %q: sequence 00 is never issued", kind, s)
	}
	return card, seq, nil
}

// checkCardNumber is production.CardNumber's rule (10 digits, the last a Luhn check digit): a
// mistyped id is caught before any look-up.
func checkCardNumber(s string) error {
	_, err := production.ParseCardNumber(s)
	return err
}

// A BatchID names the shipping batch of one post pickup: "B" and the pickup's local date and time,
// e.g. B20261123-1500. There is one batch per pickup, so the pickup names it.
type BatchID string

// NewBatchID is the id of the batch for the pickup at t (taken in t's location).
func NewBatchID(pickup time.Time) BatchID {
	return BatchID("B" + pickup.Format("20060102-1504"))
}
