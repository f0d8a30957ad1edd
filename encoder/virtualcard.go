package encoder

import (
	"errors"
	"sync"
)

// ATR4K is the ATR a PC/SC Part 3 reader reports for a MIFARE Classic 4K card: RID A0 00 00 03 06,
// standard 03 (ISO 14443 A part 3), card name 00 02.
func ATR4K() []byte {
	return []byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x69}
}

// ATR1K is the same for a MIFARE Classic 1K (card name 00 01): the wrong card type for cardline.
func ATR1K() []byte {
	a := ATR4K()
	a[14] = 0x01
	a[19] = atrTCK(a[1:19])
	return a
}

func atrTCK(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// Faults are what can go wrong with a virtual card, for tests of the encoder's failure classes.
type Faults struct {
	// TearAfterWrites > 0: the card leaves the field after this many block writes have stuck; the
	// command in progress gets no answer.
	TearAfterWrites int
	// LoseWrite > 0: the block write with this number (counting from 1) answers 90 00 but does
	// not stick.
	LoseWrite int
	// TransportKey, when non-nil, replaces FF…FF as the blank card's keys A and B (a blank from an
	// unknown supplier).
	TransportKey *Key
	// ATR, when non-nil, replaces the MIFARE Classic 4K ATR (a card of the wrong type).
	ATR []byte
}

// ErrTorn is returned by VirtualCard.Transmit when the card left the field mid-command (tearing).
var ErrTorn = errors.New("virtual card left the field mid-command")

// VirtualCard emulates a MIFARE Classic 4K card behind a PC/SC Part 3 contactless reader: the
// pseudo-APDUs GET DATA (UID), LOAD KEYS, GENERAL AUTHENTICATE, READ BINARY and UPDATE BINARY,
// with real sector trailer and access-bit semantics. Rule: every read and write is checked against
// the authenticated sector and its access conditions exactly as the chip does; a trailer written
// with an invalid access-bit pattern makes its sector unusable for ever, as on a real card.
// READ and UPDATE BINARY accept whole blocks within one sector (16·n bytes), as many readers do.
type VirtualCard struct {
	mu        sync.Mutex
	uid       []byte
	atr       []byte
	mem       [Blocks][BlockSize]byte
	bricked   [Sectors]bool
	slots     map[byte]Key
	authSec   int // -1 when not authenticated
	authKey   KeyType
	faults    Faults
	writes    int // block writes that stuck
	attempted int // block writes attempted
	torn      bool
	apdus     int
}

// NewBlankCard returns a blank 4K card with the given UID (4 or 7 bytes): transport keys, transport
// access bits, zero data, manufacturer block 0.
func NewBlankCard(uid []byte, f Faults) *VirtualCard {
	c := &VirtualCard{uid: append([]byte(nil), uid...), authSec: -1, slots: map[byte]Key{}, faults: f}
	c.atr = ATR4K()
	if f.ATR != nil {
		c.atr = append([]byte(nil), f.ATR...)
	}
	tk := TransportKey()
	if f.TransportKey != nil {
		tk = *f.TransportKey
	}
	acc, _ := AccessBits{DataTransport, DataTransport, DataTransport, TrailerTransport}.Encode()
	for s := 0; s < Sectors; s++ {
		t := &c.mem[TrailerBlock(s)]
		copy(t[0:6], tk[:])
		copy(t[6:9], acc[:])
		t[9] = 0x69
		copy(t[10:16], tk[:])
	}
	b0 := &c.mem[0]
	copy(b0[:], c.uid)
	if len(c.uid) == 4 {
		b0[4] = c.uid[0] ^ c.uid[1] ^ c.uid[2] ^ c.uid[3] // BCC
		b0[5], b0[6], b0[7] = 0x18, 0x02, 0x00            // SAK, ATQA
	} else {
		b0[7], b0[8], b0[9] = 0x18, 0x42, 0x00
	}
	return c
}

// UID returns the card's UID.
func (c *VirtualCard) UID() []byte { return append([]byte(nil), c.uid...) }

// ATR returns the card's ATR as the reader reports it.
func (c *VirtualCard) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.atr...)
}

// Block returns the raw content of block b (keys included), for tests.
func (c *VirtualCard) Block(b int) [BlockSize]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem[b]
}

// Bricked reports whether sector s was made unusable by an invalid access-bit pattern.
func (c *VirtualCard) Bricked(s int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bricked[s]
}

// Writes returns the number of block writes that stuck.
func (c *VirtualCard) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// APDUs returns the number of APDUs the card answered.
func (c *VirtualCard) APDUs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apdus
}

// Torn reports whether the card has left the field by tearing.
func (c *VirtualCard) Torn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.torn
}

// Reset is the reader powering the field off and on: authentication and loaded keys are lost.
func (c *VirtualCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authSec = -1
	c.slots = map[byte]Key{}
}

// Status words.
const (
	swOK           uint16 = 0x9000
	swAuthFailed   uint16 = 0x6300
	swWrongLength  uint16 = 0x6700
	swDenied       uint16 = 0x6982
	swBadBlock     uint16 = 0x6A82
	swBadP1P2      uint16 = 0x6B00
	swBadINS       uint16 = 0x6D00
	swBadCLA       uint16 = 0x6E00
	swBadKeyNumber uint16 = 0x6986
	swNoFunction   uint16 = 0x6A81
)

func sw(w uint16) []byte { return []byte{byte(w >> 8), byte(w)} }

// Transmit answers one APDU. It returns ErrTorn when the card leaves the field mid-command.
func (c *VirtualCard) Transmit(apdu []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.torn {
		return nil, ErrTorn
	}
	c.apdus++
	if len(apdu) < 4 {
		return sw(swWrongLength), nil
	}
	if apdu[0] != 0xFF {
		return sw(swBadCLA), nil
	}
	ins, p1, p2 := apdu[1], apdu[2], apdu[3]
	body := apdu[4:]
	switch ins {
	case 0xCA: // GET DATA
		if p1 != 0x00 {
			return sw(swNoFunction), nil
		}
		return append(append([]byte(nil), c.uid...), sw(swOK)...), nil
	case 0x82: // LOAD KEYS: P1 key structure, P2 key number, data the key
		if len(body) != 7 || body[0] != 6 {
			return sw(swWrongLength), nil
		}
		if p1&0x80 != 0 || p2 > 0x1F {
			return sw(swBadKeyNumber), nil
		}
		var k Key
		copy(k[:], body[1:7])
		c.slots[p2] = k
		return sw(swOK), nil
	case 0x86: // GENERAL AUTHENTICATE: data 01 00 block keytype keynumber
		if len(body) != 6 || body[0] != 5 || body[1] != 0x01 || body[2] != 0x00 {
			return sw(swWrongLength), nil
		}
		return c.authenticate(int(body[3]), KeyType(body[4]), body[5]), nil
	case 0xB0: // READ BINARY
		if p1 != 0x00 || len(body) != 1 {
			return sw(swBadP1P2), nil
		}
		n := int(body[0])
		if n == 0 {
			n = 256
		}
		return c.read(int(p2), n), nil
	case 0xD6: // UPDATE BINARY
		if p1 != 0x00 || len(body) < 1 || int(body[0]) != len(body)-1 {
			return sw(swWrongLength), nil
		}
		return c.update(int(p2), body[1:])
	}
	return sw(swBadINS), nil
}

func (c *VirtualCard) authenticate(block int, kt KeyType, slot byte) []byte {
	c.authSec = -1
	key, ok := c.slots[slot]
	if !ok {
		return sw(swBadKeyNumber)
	}
	if kt != KeyA && kt != KeyB {
		return sw(swBadP1P2)
	}
	s := SectorOf(block)
	if c.bricked[s] {
		return sw(swAuthFailed)
	}
	t := c.mem[TrailerBlock(s)]
	var want []byte
	if kt == KeyA {
		want = t[0:6]
	} else {
		acc, err := DecodeAccessBits([3]byte{t[6], t[7], t[8]})
		if err != nil || keyBReadable(acc[3]) {
			return sw(swAuthFailed)
		}
		want = t[10:16]
	}
	if string(want) != string(key[:]) {
		return sw(swAuthFailed)
	}
	c.authSec, c.authKey = s, kt
	return sw(swOK)
}

// span checks that n bytes from block b are whole blocks of the authenticated sector.
func (c *VirtualCard) span(b, n int) []byte {
	if b >= Blocks {
		return sw(swBadBlock)
	}
	if n%BlockSize != 0 || n == 0 {
		return sw(swWrongLength)
	}
	last := b + n/BlockSize - 1
	if last >= Blocks || SectorOf(last) != SectorOf(b) {
		return sw(swWrongLength)
	}
	if c.authSec != SectorOf(b) {
		return sw(swDenied)
	}
	return nil
}

// groupIndex maps a block to its access-bit group (0-2 data, 3 trailer).
func groupIndex(b int) int {
	s := SectorOf(b)
	i := b - FirstBlock(s)
	if i == SectorBlocks(s)-1 {
		return 3
	}
	if s < 32 {
		return i
	}
	return i / 5
}

func (c *VirtualCard) read(b, n int) []byte {
	if e := c.span(b, n); e != nil {
		return e
	}
	s := SectorOf(b)
	t := c.mem[TrailerBlock(s)]
	acc, err := DecodeAccessBits([3]byte{t[6], t[7], t[8]})
	if err != nil {
		return sw(swDenied)
	}
	out := make([]byte, 0, n+2)
	for blk := b; blk < b+n/BlockSize; blk++ {
		g := groupIndex(blk)
		if g == 3 {
			r := trailerRightsFor(acc[3], c.authKey)
			var tb [BlockSize]byte
			if r.readAccess {
				copy(tb[6:10], t[6:10])
			}
			if r.readKeyB {
				copy(tb[10:16], t[10:16])
			}
			out = append(out, tb[:]...)
			continue
		}
		if ok, _ := dataRights(acc[g], c.authKey); !ok {
			return sw(swDenied)
		}
		out = append(out, c.mem[blk][:]...)
	}
	return append(out, sw(swOK)...)
}

func (c *VirtualCard) update(b int, data []byte) ([]byte, error) {
	if e := c.span(b, len(data)); e != nil {
		return e, nil
	}
	if b == 0 {
		return sw(swDenied), nil // the manufacturer block is read-only
	}
	s := SectorOf(b)
	for i := 0; i < len(data)/BlockSize; i++ {
		blk := b + i
		t := &c.mem[TrailerBlock(s)]
		acc, err := DecodeAccessBits([3]byte{t[6], t[7], t[8]})
		if err != nil {
			return sw(swDenied), nil
		}
		src := data[i*BlockSize : (i+1)*BlockSize]
		g := groupIndex(blk)
		if g != 3 {
			if _, ok := dataRights(acc[g], c.authKey); !ok {
				return sw(swDenied), nil
			}
		} else {
			r := trailerRightsFor(acc[3], c.authKey)
			if !r.writeKeyA && !r.writeAccess && !r.writeKeyB {
				return sw(swDenied), nil
			}
		}
		c.attempted++
		if c.faults.TearAfterWrites > 0 && c.writes >= c.faults.TearAfterWrites {
			c.torn = true
			return nil, ErrTorn
		}
		if c.attempted == c.faults.LoseWrite {
			continue
		}
		c.writes++
		if g != 3 {
			c.mem[blk] = [BlockSize]byte(src)
			continue
		}
		r := trailerRightsFor(acc[3], c.authKey)
		if r.writeKeyA {
			copy(t[0:6], src[0:6])
		}
		if r.writeAccess {
			copy(t[6:10], src[6:10])
			if _, err := DecodeAccessBits([3]byte{src[6], src[7], src[8]}); err != nil {
				c.bricked[s] = true
			}
		}
		if r.writeKeyB {
			copy(t[10:16], src[10:16])
		}
	}
	return sw(swOK), nil
}
