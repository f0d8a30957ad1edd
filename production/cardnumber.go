package production

import (
	"fmt"
	"strconv"
)

// A CardNumber names one HSE card for its whole life: 10 decimal digits, a 9-digit serial from the
// database sequence card_number_seq (zero-padded, starting at 100000001) followed by a Luhn check
// digit, so a mistyped number is caught before any look-up. A number is never reused, not even for
// a remake: a remade card keeps its number on a new chip, and the old chip is voided.
type CardNumber string

// NewCardNumber formats a serial from the sequence as a card number.
func NewCardNumber(serial int64) (CardNumber, error) {
	if serial <= 0 || serial > 999_999_999 {
		return "", fmt.Errorf("card serial %d outside 1..999999999", serial)
	}
	body := fmt.Sprintf("%09d", serial)
	return CardNumber(body + strconv.Itoa(luhnDigit(body))), nil
}

// ParseCardNumber checks the format and check digit of s.
func ParseCardNumber(s string) (CardNumber, error) {
	if len(s) != 10 || !allDigits(s) {
		return "", fmt.Errorf("card number %q: must be exactly 10 digits", s)
	}
	if luhnDigit(s[:9]) != int(s[9]-'0') {
		return "", fmt.Errorf("card number %q: Luhn check digit does not match", s)
	}
	return CardNumber(s), nil
}

// luhnDigit is the Luhn check digit for body: double every second digit from the right.
func luhnDigit(body string) int {
	sum := 0
	double := true
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}
