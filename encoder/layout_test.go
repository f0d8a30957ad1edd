package encoder

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func testRecord() Record {
	return Record{
		GivenName:  "Øyvind Ærlig-Ståle",
		FamilyName: "Ødegård",
		BirthDate:  time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC),
		Gender:     "M",
		OrgNumber:  "923609016",
		OrgName:    "Bygg og Rør AS",
		CardNumber: "1000000017",
		Expiry:     time.Date(2028, 11, 23, 0, 0, 0, 0, time.UTC),
		CardType:   "construction",
	}
}

func TestAccessBits(t *testing.T) {
	cases := []struct {
		name string
		bits AccessBits
		want string
	}{
		{"transport", AccessBits{DataTransport, DataTransport, DataTransport, TrailerTransport}, "FF0780"},
		{"cardline and MAD (AN10787)", AccessBits{DataReadABWriteB, DataReadABWriteB, DataReadABWriteB, TrailerKeyBOwns}, "787788"},
	}
	for _, c := range cases {
		b, err := c.bits.Encode()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.ToUpper(hex.EncodeToString(b[:])); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
		back, err := DecodeAccessBits(b)
		if err != nil || back != c.bits {
			t.Errorf("%s: decode %v %v", c.name, back, err)
		}
	}
	// Every 12-bit pattern round-trips, and flipping any one of the 24 bits is caught.
	for p := 0; p < 1<<12; p++ {
		a := AccessBits{Access(p & 7), Access(p >> 3 & 7), Access(p >> 6 & 7), Access(p >> 9 & 7)}
		b, _ := a.Encode()
		if back, err := DecodeAccessBits(b); err != nil || back != a {
			t.Fatalf("pattern %03x: %v %v", p, back, err)
		}
		for bit := 0; bit < 24; bit++ {
			bad := b
			bad[bit/8] ^= 1 << (bit % 8)
			if _, err := DecodeAccessBits(bad); !errors.Is(err, ErrInvalidAccessBits) {
				t.Fatalf("pattern %03x bit %d flipped: accepted", p, bit)
			}
		}
	}
	if _, err := (AccessBits{8, 0, 0, 0}).Encode(); err == nil {
		t.Error("out-of-range condition encoded")
	}
}

func TestCMAC(t *testing.T) {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	msg, _ := hex.DecodeString("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411")
	for _, c := range []struct {
		n    int
		want string
	}{ // RFC 4493 section 4
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
	} {
		got, err := cmac(key, msg[:c.n])
		if err != nil || hex.EncodeToString(got[:]) != c.want {
			t.Errorf("CMAC of %d bytes: %x %v, want %s", c.n, got, err, c.want)
		}
	}
	// AN10922 section 2.2.1 worked example (AES-128 diversification).
	master, _ := hex.DecodeString("00112233445566778899AABBCCDDEEFF")
	d, _ := hex.DecodeString("0104782E21801D803042F54E585020416275")
	got, err := an10922CMAC(master, d)
	if err != nil || strings.ToUpper(hex.EncodeToString(got[:])) != "A8DD63A3B89D54B37CA802473FDA9175" {
		t.Errorf("AN10922 example: %X %v", got, err)
	}
}

func TestDiversifyKey(t *testing.T) {
	k := DevKeys()
	a, err := k.WriteKey([]byte{4, 1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.WriteKey([]byte{4, 1, 2, 3, 4, 5, 7})
	a2, _ := k.WriteKey([]byte{4, 1, 2, 3, 4, 5, 6})
	if a == b || a != a2 {
		t.Errorf("diversified keys: same UID %v, other UID equal %v", a == a2, a == b)
	}
	if _, err := k.WriteKey([]byte{1, 2, 3}); err == nil {
		t.Error("3-byte UID accepted")
	}
	if s := k.String() + a.String(); strings.Contains(s, hex.EncodeToString(a[:])) {
		t.Error("key material printed")
	}
}

func TestMADCRC(t *testing.T) {
	// The NFC Forum MAD of a 1K card with every sector NDEF (AID E103): CRC 14, info 01.
	b := []byte{0x01}
	for i := 0; i < 15; i++ {
		b = append(b, 0x03, 0xE1)
	}
	if got := madCRC(b); got != 0x14 {
		t.Errorf("MAD CRC %02X, want 14", got)
	}
	mad1, mad2 := buildMAD([]int{3, 32, 33})
	secs, err := parseMAD(madGPB, mad1, mad2)
	if err != nil || len(secs) != 3 || secs[0] != 3 || secs[2] != 33 {
		t.Errorf("MAD round trip: %v %v", secs, err)
	}
	mad2[10] ^= 1
	if _, err := parseMAD(madGPB, mad1, mad2); !errors.Is(err, ErrNotEncoded) {
		t.Errorf("MAD2 CRC error not caught: %v", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	keys := DevKeys()
	uid := []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}
	long := strings.Repeat("Łukasz-Żółć ", 16)[:0] + strings.Repeat("Ž", MaxRunes)
	for _, r := range []Record{testRecord(), func() Record {
		r := testRecord()
		r.GivenName, r.FamilyName, r.OrgName = long, long, long
		r.Gender, r.CardType = "X", "transport"
		return r
	}()} {
		rec, err := MarshalRecord(r, uid, keys)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseRecord(append(rec, make([]byte, 40)...), uid, keys.Verifier().PublicKeys)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Verified || !sameRecord(p.Record, r) {
			t.Errorf("round trip: %+v", p)
		}
		// Another chip (clone) or one edited byte must fail.
		if _, err := ParseRecord(rec, []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF7}, keys.Verifier().PublicKeys); !errors.Is(err, ErrBadSignature) {
			t.Errorf("clone: %v", err)
		}
		edited := bytes.Clone(rec)
		edited[10] ^= 0x01
		if _, err := ParseRecord(edited, uid, keys.Verifier().PublicKeys); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("edited byte: %v", err)
		}
	}
}

func TestRecordValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Record)
	}{
		{"empty given name", func(r *Record) { r.GivenName = "" }},
		{"bad UTF-8", func(r *Record) { r.OrgName = "\xff" }},
		{"too long", func(r *Record) { r.FamilyName = strings.Repeat("å", MaxRunes+1) }},
		{"gender", func(r *Record) { r.Gender = "K" }},
		{"org number", func(r *Record) { r.OrgNumber = "92360901" }},
		{"card number", func(r *Record) { r.CardNumber = "10000000l7" }},
		{"card type", func(r *Record) { r.CardType = "office" }},
		{"no expiry", func(r *Record) { r.Expiry = time.Time{} }},
	} {
		r := testRecord()
		c.mod(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := testRecord().Validate(); err != nil {
		t.Error(err)
	}
}

// TestEncodeInProcess runs the whole encode and read-back against the emulator without PC/SC,
// then reads the card as a field reader and checks what a cloner or a reader without keys gets.
func TestEncodeInProcess(t *testing.T) {
	keys := DevKeys()
	uid := []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	card := NewBlankCard(uid, Faults{})
	res, err := encodeCard(card, testRecord(), keys, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.UID, uid) || res.APDUs != card.APDUs() {
		t.Errorf("result %+v, card saw %d APDUs", res, card.APDUs())
	}
	for s := 0; s < Sectors; s++ {
		tr := card.Block(TrailerBlock(s))
		if bytes.Equal(tr[0:6], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) || bytes.Equal(tr[10:16], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) {
			t.Errorf("sector %d left at transport keys", s)
		}
	}
	if _, err := readApplication(newSession(NewBlankCard(uid, Faults{})), uid, keys.Verifier(), true); !errors.Is(err, ErrNotEncoded) {
		t.Errorf("blank card read: %v", err)
	}
	p, err := readApplication(newSession(card), uid, keys.Verifier(), true)
	if err != nil || p.CardNumber != "1000000017" || !p.Verified {
		t.Fatalf("field read: %+v %v", p, err)
	}
	// A reader with the wrong read key gets nothing.
	if _, err := readApplication(newSession(card), uid, Verifier{ReadKey: Key{1, 2, 3, 4, 5, 6}}, false); !errors.Is(err, ErrWrongKeys) {
		t.Errorf("wrong read key: %v", err)
	}
	// The read key cannot write.
	s := newSession(card)
	_ = s.load(slotRead, keys.ReadKey)
	if ok, _ := s.auth(32, KeyA, slotRead); !ok {
		t.Fatal("read key does not open sector 32")
	}
	if err := s.write(FirstBlock(32), make([]byte, 16)); !errors.Is(err, errAccessDenied) {
		t.Errorf("write with read key: %v", err)
	}
	// A clone: every readable byte copied to a card with another UID fails the signature.
	clone := NewBlankCard([]byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x67}, Faults{})
	for b := 1; b < Blocks; b++ {
		clone.mem[b] = card.mem[b]
	}
	if _, err := readApplication(newSession(clone), clone.UID(), keys.Verifier(), true); !errors.Is(err, ErrBadSignature) {
		t.Errorf("clone: %v", err)
	}
	// The same card again with another number is refused, unless it is a reject being re-used.
	other := testRecord()
	other.CardNumber = "1000000025"
	if _, err := encodeCard(card, other, keys, EncodeOptions{}); !errors.Is(err, ErrAlreadyEncoded) {
		t.Errorf("overwrite: %v", err)
	}
	res, err = encodeCard(card, other, keys, EncodeOptions{ReuseReject: true})
	if err != nil || !res.Reused {
		t.Fatalf("re-use: %+v %v", res, err)
	}
	if p, err := readApplication(newSession(card), uid, keys.Verifier(), true); err != nil || p.CardNumber != "1000000025" {
		t.Errorf("after re-use: %v %v", p.CardNumber, err)
	}
}

func TestEncodeFaultsInProcess(t *testing.T) {
	keys := DevKeys()
	uid := []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	wrong := Key{1, 2, 3, 4, 5, 6}
	for _, c := range []struct {
		name   string
		faults Faults
		want   error
	}{
		{"silent write loss", Faults{LoseWrite: 5}, ErrWriteNotStuck},
		{"silent loss of a trailer", Faults{LoseWrite: 3}, ErrWriteNotStuck},
		{"wrong transport keys", Faults{TransportKey: &wrong}, ErrWrongKeys},
		{"tearing", Faults{TearAfterWrites: 20}, ErrTorn},
	} {
		card := NewBlankCard(uid, c.faults)
		_, err := encodeCard(card, testRecord(), keys, EncodeOptions{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestInvalidAccessBitsBrickEmulatedSector(t *testing.T) {
	card := NewBlankCard([]byte{1, 2, 3, 4}, Faults{})
	s := newSession(card)
	_ = s.load(0, TransportKey())
	if ok, _ := s.auth(5, KeyA, 0); !ok {
		t.Fatal("auth")
	}
	tr := append(bytes.Repeat([]byte{0xFF}, 6), 0xFF, 0xFF, 0xFF, 0x00)
	tr = append(tr, bytes.Repeat([]byte{0xFF}, 6)...)
	if err := s.write(TrailerBlock(5), tr); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.auth(5, KeyA, 0); ok || !card.Bricked(5) {
		t.Error("sector with invalid access bits still opens: the emulator would hide a bricking bug")
	}
}

func TestImageValidateRefusesBadTrailers(t *testing.T) {
	uid := []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	for _, c := range []struct {
		name string
		mod  func(tr []byte)
	}{
		{"inverted copy disagrees", func(tr []byte) { tr[6] ^= 0x01 }},
		{"transport key A", func(tr []byte) { copy(tr[0:6], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) }},
		{"trailer frozen (111)", func(tr []byte) {
			b, _ := AccessBits{DataReadABWriteB, DataReadABWriteB, DataReadABWriteB, 0b111}.Encode()
			copy(tr[6:9], b[:])
		}},
	} {
		img, err := Plan(testRecord(), uid, DevKeys(), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := img.Validate(); err != nil {
			t.Fatalf("good image: %v", err)
		}
		w := img.Writes[3]
		c.mod(w.Data[len(w.Data)-BlockSize:])
		if err := img.Validate(); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func FuzzVirtualCardTransmit(f *testing.F) {
	f.Add([]byte{0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, 0x80, 0x60, 0x00})
	f.Add([]byte{0xFF, 0xB0, 0x00, 0xFF, 0x00})
	f.Add([]byte{0xFF, 0xD6, 0x00, 0x83, 0x10, 0, 0, 0, 0, 0, 0, 0xFF, 0x07, 0x80, 0x69, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, apdu []byte) {
		if len(apdu) == 0 {
			return
		}
		c := NewBlankCard([]byte{1, 2, 3, 4}, Faults{})
		s := newSession(c)
		_ = s.load(0, TransportKey())
		_, _ = s.auth(SectorOf(int(apdu[len(apdu)/2%len(apdu)])), KeyA, 0)
		r, err := c.Transmit(apdu)
		if err != nil || len(r) < 2 {
			t.Fatalf("answer %X %v", r, err)
		}
		if c.mem[0][0] != 1 {
			t.Fatal("manufacturer block changed")
		}
	})
}

// singleBlockReader is a reader that takes only one block per command: multi-block writes fail
// with 63 00 and multi-block reads return one block, as some couplers do.
type singleBlockReader struct{ card *VirtualCard }

func (r singleBlockReader) Transmit(apdu []byte) ([]byte, error) {
	if len(apdu) > 5 && apdu[1] == 0xD6 && apdu[4] > 16 {
		return sw(swAuthFailed), nil
	}
	if len(apdu) == 5 && apdu[1] == 0xB0 && apdu[4] != 16 {
		apdu = append(apdu[:4:4], 16)
	}
	return r.card.Transmit(apdu)
}

func TestEncodeFallsBackToSingleBlocks(t *testing.T) {
	card := NewBlankCard([]byte{0x04, 9, 8, 7, 6, 5, 4}, Faults{})
	res, err := encodeCard(singleBlockReader{card}, testRecord(), DevKeys(), EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 204 single-block APDUs plus the one refused multi-block write that taught the session.
	if res.APDUs != 205 {
		t.Errorf("%d APDUs, want 205", res.APDUs)
	}
}
