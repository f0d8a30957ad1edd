package production

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// OrgNumber rule: a Norwegian organisation number is 9 digits whose last digit is a MOD11 check
// digit over the first eight (weights 3 2 7 6 5 4 3 2). A remainder that would give check digit 10
// makes the number invalid: no such number is ever issued.
func checkOrgNumber(s string) error {
	if len(s) != 9 || !allDigits(s) {
		return fmt.Errorf("must be exactly 9 digits")
	}
	k, ok := mod11(s[:8], []int{3, 2, 7, 6, 5, 4, 3, 2})
	if !ok || k != int(s[8]-'0') {
		return fmt.Errorf("MOD11 check digit does not match")
	}
	return nil
}

// National id rule: 11 digits DDMMYY III K1 K2. A D-number has 4 added to the first digit. Both
// check digits are MOD11 (weights 3 7 6 1 8 9 4 5 2 for K1, 5 4 3 2 7 6 5 4 3 2 for K2), and the
// birth date it encodes (century from the individual number III) must be the holder's birth_date.
func checkNationalID(s string, birth time.Time) error {
	if len(s) != 11 || !allDigits(s) {
		return fmt.Errorf("must be exactly 11 digits")
	}
	k1, ok1 := mod11(s[:9], []int{3, 7, 6, 1, 8, 9, 4, 5, 2})
	if !ok1 || k1 != int(s[9]-'0') {
		return fmt.Errorf("first check digit does not match (MOD11)")
	}
	k2, ok2 := mod11(s[:10], []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2})
	if !ok2 || k2 != int(s[10]-'0') {
		return fmt.Errorf("second check digit does not match (MOD11)")
	}
	d, err := nationalIDBirthDate(s)
	if err != nil {
		return err
	}
	if birth.IsZero() {
		return nil // birth_date is reported on its own field
	}
	if !sameDate(d, birth) {
		return fmt.Errorf("encodes birth date %s, not birth_date %s", d.Format(time.DateOnly), birth.Format(time.DateOnly))
	}
	return nil
}

// nationalIDBirthDate decodes the birth date of a fødselsnummer or D-number.
func nationalIDBirthDate(s string) (time.Time, error) {
	day := int(s[0]-'0')*10 + int(s[1]-'0')
	month := int(s[2]-'0')*10 + int(s[3]-'0')
	yy := int(s[4]-'0')*10 + int(s[5]-'0')
	individual := int(s[6]-'0')*100 + int(s[7]-'0')*10 + int(s[8]-'0')
	if day > 40 { // D-number
		day -= 40
	}
	var century int
	switch {
	case individual <= 499:
		century = 1900
	case individual <= 749 && yy >= 54:
		century = 1800
	case individual >= 900 && yy >= 40:
		century = 1900
	case yy <= 39:
		century = 2000
	default:
		return time.Time{}, fmt.Errorf("individual number %03d and year %02d name no century", individual, yy)
	}
	d := time.Date(century+yy, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if month < 1 || month > 12 || day < 1 || d.Day() != day {
		return time.Time{}, fmt.Errorf("does not encode a valid date")
	}
	return d, nil
}

func mod11(digits string, weights []int) (int, bool) {
	sum := 0
	for i := range weights {
		sum += int(digits[i]-'0') * weights[i]
	}
	k := 11 - sum%11
	switch k {
	case 11:
		return 0, true
	case 10:
		return 0, false
	}
	return k, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// HolderKey is what stands in for a national id once intake is done: an HMAC-SHA256 of the id
// under a key from configuration. It identifies a person for the one-card-per-employment rule
// without keeping the id, and without the key it cannot be reversed by trying all 11-digit ids.
type HolderKey string

// NewHolderKey computes the holder key of a national id.
func NewHolderKey(secret []byte, nationalID string) HolderKey {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("cardline/holder/v1\x00"))
	m.Write([]byte(nationalID))
	return HolderKey(hex.EncodeToString(m.Sum(nil)))
}
