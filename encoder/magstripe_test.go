package encoder

import (
	"errors"
	"testing"
)

func TestStripeRoundTrip(t *testing.T) {
	s := Stripe{OrgNumber: "923609016", CardNumber: "1000000017"}
	tr, err := EncodeStripe(s)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Track2[:21] != ";1000000017=923609016" || tr.Track2[21] != '?' || len(tr.Track2) != 23 {
		t.Errorf("track 2 %q", tr.Track2)
	}
	if tr.Track1[:2] != "%A" || len(tr.Track1) != 32 {
		t.Errorf("track 1 %q", tr.Track1)
	}
	// Track 2 LRC by hand: XOR of the 4-bit values of ";1000000017=923609016?".
	var lrc byte
	for _, c := range []byte(";1000000017=923609016?") {
		lrc ^= c - '0'
	}
	if tr.Track2[22] != '0'+lrc {
		t.Errorf("track 2 LRC %q, want %q", tr.Track2[22], '0'+lrc)
	}
	back, err := ParseTracks(tr)
	if err != nil || back != s {
		t.Fatalf("parse back: %+v %v", back, err)
	}
	if opts := tr.JobOptions(); opts["mag-track-2"] != ";1000000017=923609016?" {
		t.Errorf("job options %v", opts)
	}
}

func TestStripeErrors(t *testing.T) {
	good, _ := EncodeStripe(Stripe{OrgNumber: "923609016", CardNumber: "1000000017"})
	c1, c2, _ := good.TrackCodes()
	flip := func(b []byte, i int, m byte) []byte {
		o := append([]byte(nil), b...)
		o[i] ^= m
		return o
	}
	for _, c := range []struct {
		name   string
		t1, t2 []byte
	}{
		{"parity error on track 2", c1, flip(c2, 5, 0x10)},
		{"data and parity changed on track 2 (LRC catches)", c1, flip(c2, 5, 0x11)},
		{"parity error on track 1", flip(c1, 3, 0x40), c2},
		{"LRC wrong on track 1", c1[:len(c1)-1], c2},
		{"tracks disagree", func() []byte {
			o, _ := EncodeStripe(Stripe{OrgNumber: "923609016", CardNumber: "1000000025"})
			a, _, _ := o.TrackCodes()
			return a
		}(), c2},
	} {
		if _, err := ParseStripeCodes(c.t1, c.t2); !errors.Is(err, ErrBadStripe) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, s := range []Stripe{{"92360901", "1000000017"}, {"923609016", "100000001x"}} {
		if _, err := EncodeStripe(s); !errors.Is(err, ErrBadStripe) {
			t.Errorf("%+v encoded", s)
		}
	}
}

func FuzzParseStripe(f *testing.F) {
	good, _ := EncodeStripe(Stripe{OrgNumber: "923609016", CardNumber: "1000000017"})
	c1, c2, _ := good.TrackCodes()
	f.Add(c1, c2)
	f.Add([]byte{}, []byte{0x0B})
	f.Fuzz(func(t *testing.T, t1, t2 []byte) {
		s, err := ParseStripeCodes(t1, t2)
		if err != nil {
			return
		}
		// Whatever parses must encode back to the same codes.
		tr, err := EncodeStripe(s)
		if err != nil {
			t.Fatalf("parsed %+v does not encode: %v", s, err)
		}
		e1, e2, _ := tr.TrackCodes()
		if string(e1) != string(t1) || string(e2) != string(t2) {
			t.Fatalf("round trip differs for %+v", s)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	keys := DevKeys()
	uid := []byte{0x04, 1, 2, 3, 4, 5, 6}
	rec, _ := MarshalRecord(testRecord(), uid, keys)
	f.Add(rec, uid)
	f.Add([]byte("HK\x01\x01\x00\x02\x01\x00"), []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, stream, uid []byte) {
		p, err := ParseRecord(stream, uid, keys.Verifier().PublicKeys)
		if err != nil {
			return
		}
		if !p.Verified {
			t.Fatal("accepted without verification")
		}
		if err := p.Record.Validate(); err != nil {
			t.Fatalf("accepted invalid record: %v", err)
		}
	})
}

func FuzzParseMAD(f *testing.F) {
	m1, m2 := buildMAD([]int{1, 32})
	f.Add(byte(madGPB), m1, m2)
	f.Fuzz(func(t *testing.T, gpb byte, mad1, mad2 []byte) {
		secs, err := parseMAD(gpb, mad1, mad2)
		if err != nil {
			return
		}
		for _, s := range secs {
			if s <= 0 || s >= Sectors || s == 16 {
				t.Fatalf("MAD gave sector %d", s)
			}
		}
	})
}
