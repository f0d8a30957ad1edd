package encoder

import (
	"errors"
	"fmt"
	"strings"
)

// Stripe is what the card's magnetic stripe carries: the organisation number and the card number.
// Rule: it encodes only with a 9-digit organisation number and a 10-digit card number.
type Stripe struct {
	OrgNumber  string
	CardNumber string
}

// Tracks are the stripe's two tracks as characters, start sentinel, data, end sentinel and LRC
// character included:
//
//	Track 1 (ISO/IEC 7811-2, 7-bit alphanumeric, 210 bpi): %A<card number>^<org number>^HMSKORT?<LRC>
//	Track 2 (ISO/IEC 7811-2, 5-bit numeric, 75 bpi):       ;<card number>=<org number>?<LRC>
//
// Format code A is the one ISO/IEC 7813 leaves to the issuer's own use. Each character is stored
// with odd parity; the LRC is the XOR of the data bits of every character from start sentinel to
// end sentinel, with its own odd parity bit.
type Tracks struct {
	Track1 string
	Track2 string
}

// ErrBadStripe means track data breaks the character set, sentinels, parity or LRC.
var ErrBadStripe = errors.New("bad magnetic stripe data")

// trackSpec is one track's character set: characters from base to base+2^bits-1.
type trackSpec struct {
	name       string
	bits       uint
	base       byte
	start, end byte
	sep        byte
	maxChars   int
}

func track1() trackSpec {
	return trackSpec{name: "track 1", bits: 6, base: 0x20, start: '%', end: '?', sep: '^', maxChars: 79}
}

func track2() trackSpec {
	return trackSpec{name: "track 2", bits: 4, base: 0x30, start: ';', end: '?', sep: '=', maxChars: 40}
}

// EncodeStripe returns both tracks for s.
func EncodeStripe(s Stripe) (Tracks, error) {
	if !digits(s.OrgNumber, 9) || !digits(s.CardNumber, 10) {
		return Tracks{}, fmt.Errorf("%w: organisation number must be 9 digits and card number 10", ErrBadStripe)
	}
	t1, err := track1().encode("A" + s.CardNumber + "^" + s.OrgNumber + "^HMSKORT")
	if err != nil {
		return Tracks{}, err
	}
	t2, err := track2().encode(s.CardNumber + "=" + s.OrgNumber)
	if err != nil {
		return Tracks{}, err
	}
	return Tracks{Track1: t1, Track2: t2}, nil
}

// encode wraps data in sentinels and appends the LRC character.
func (ts trackSpec) encode(data string) (string, error) {
	chars := string(ts.start) + data + string(ts.end)
	if len(chars)+1 > ts.maxChars {
		return "", fmt.Errorf("%w: %s longer than %d characters", ErrBadStripe, ts.name, ts.maxChars)
	}
	var lrc byte
	for i := 0; i < len(chars); i++ {
		v, ok := ts.value(chars[i])
		if !ok {
			return "", fmt.Errorf("%w: %q is not in the %s character set", ErrBadStripe, chars[i], ts.name)
		}
		lrc ^= v
	}
	return chars + string(ts.base+lrc), nil
}

func (ts trackSpec) value(c byte) (byte, bool) {
	if c < ts.base || c >= ts.base+1<<ts.bits {
		return 0, false
	}
	return c - ts.base, true
}

// Codes returns the track as recorded: one code per character, data bits low, odd parity bit on
// top (bit 6 on track 1, bit 4 on track 2).
func (ts trackSpec) codes(track string) ([]byte, error) {
	out := make([]byte, len(track))
	for i := 0; i < len(track); i++ {
		v, ok := ts.value(track[i])
		if !ok {
			return nil, fmt.Errorf("%w: %q is not in the %s character set", ErrBadStripe, track[i], ts.name)
		}
		out[i] = v | oddParity(v)<<ts.bits
	}
	return out, nil
}

func oddParity(v byte) byte {
	n := 0
	for ; v != 0; v &= v - 1 {
		n++
	}
	return byte(1 - n%2)
}

// decode checks parity, sentinels and LRC of recorded codes and returns the data between the
// sentinels.
func (ts trackSpec) decode(codes []byte) (string, error) {
	if len(codes) < 3 {
		return "", fmt.Errorf("%w: %s too short", ErrBadStripe, ts.name)
	}
	var b strings.Builder
	var lrc byte
	mask := byte(1)<<ts.bits - 1
	for i, c := range codes {
		v := c & mask
		if c>>ts.bits != oddParity(v) {
			return "", fmt.Errorf("%w: %s character %d fails parity", ErrBadStripe, ts.name, i)
		}
		if i < len(codes)-1 {
			lrc ^= v
		}
		b.WriteByte(ts.base + v)
	}
	s := b.String()
	if s[0] != ts.start || s[len(s)-2] != ts.end {
		return "", fmt.Errorf("%w: %s sentinels missing", ErrBadStripe, ts.name)
	}
	if lrc != codes[len(codes)-1]&mask {
		return "", fmt.Errorf("%w: %s LRC mismatch", ErrBadStripe, ts.name)
	}
	if strings.IndexByte(s[1:len(s)-2], ts.end) >= 0 {
		return "", fmt.Errorf("%w: %s end sentinel inside data", ErrBadStripe, ts.name)
	}
	return s[1 : len(s)-2], nil
}

// TrackCodes returns the recorded codes (character plus parity) of both tracks.
func (t Tracks) TrackCodes() (t1, t2 []byte, err error) {
	if t1, err = track1().codes(t.Track1); err != nil {
		return nil, nil, err
	}
	if t2, err = track2().codes(t.Track2); err != nil {
		return nil, nil, err
	}
	return t1, t2, nil
}

// ParseStripeCodes reads a stripe back from the recorded codes of its two tracks, checking
// parity, sentinels and LRC of each, and that both tracks agree.
func ParseStripeCodes(t1, t2 []byte) (Stripe, error) {
	d1, err := track1().decode(t1)
	if err != nil {
		return Stripe{}, err
	}
	d2, err := track2().decode(t2)
	if err != nil {
		return Stripe{}, err
	}
	f1 := strings.Split(d1, "^")
	if len(f1) != 3 || !strings.HasPrefix(f1[0], "A") || f1[2] != "HMSKORT" {
		return Stripe{}, fmt.Errorf("%w: track 1 fields %q", ErrBadStripe, d1)
	}
	card, org, ok := strings.Cut(d2, "=")
	if !ok {
		return Stripe{}, fmt.Errorf("%w: track 2 has no separator", ErrBadStripe)
	}
	s := Stripe{OrgNumber: org, CardNumber: card}
	if !digits(s.OrgNumber, 9) || !digits(s.CardNumber, 10) {
		return Stripe{}, fmt.Errorf("%w: track 2 fields %q", ErrBadStripe, d2)
	}
	if f1[0][1:] != s.CardNumber || f1[1] != s.OrgNumber {
		return Stripe{}, fmt.Errorf("%w: tracks 1 and 2 disagree", ErrBadStripe)
	}
	return s, nil
}

// ParseTracks reads a stripe back from its two tracks as characters (as a reader in keyboard mode
// gives them, LRC character included).
func ParseTracks(t Tracks) (Stripe, error) {
	c1, c2, err := t.TrackCodes()
	if err != nil {
		return Stripe{}, err
	}
	return ParseStripeCodes(c1, c2)
}

// JobOptions are the tracks as the printer station passes them to a card printer's magnetic
// encoder: each track's characters between and including the sentinels (the encoder head adds
// the LRC itself).
func (t Tracks) JobOptions() map[string]string {
	strip := func(s string) string {
		if len(s) > 0 {
			return s[:len(s)-1]
		}
		return s
	}
	return map[string]string{"mag-track-1": strip(t.Track1), "mag-track-2": strip(t.Track2)}
}
