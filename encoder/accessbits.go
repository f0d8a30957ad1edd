package encoder

import (
	"errors"
	"fmt"
)

// Access is the access condition (C1 C2 C3) of one block of a MIFARE Classic sector, as three bits
// packed C1<<2 | C2<<1 | C3. Its meaning differs for data blocks and the sector trailer; the
// constants below name the ones cardline writes.
type Access uint8

// Data block conditions (NXP MF1S70 datasheet, table "access conditions for data blocks").
const (
	// DataTransport (000): read and write with key A or B, the state blank cards ship in.
	DataTransport Access = 0b000
	// DataReadABWriteB (100): read with key A or B, write only with key B. cardline's data blocks.
	DataReadABWriteB Access = 0b100
)

// Sector trailer conditions (datasheet table "access conditions for the sector trailer").
const (
	// TrailerTransport (001): key A may read and write everything but key A itself.
	TrailerTransport Access = 0b001
	// TrailerKeyBOwns (011): keys and access bits writable only with key B, access bits readable
	// with A or B, key B never readable (so it can serve for authentication). cardline's trailers.
	TrailerKeyBOwns Access = 0b011
)

// AccessBits are the access conditions of the four blocks of a sector group (blocks 0-2 and the
// trailer; in the big sectors 32-39 each "block" stands for a group of five data blocks). Rule: it
// encodes to the three bytes 6-8 of a trailer only through Encode, and bytes decode to it only when
// every bit agrees with its inverted copy, so an invalid pattern — which blocks the sector of a real
// card for ever — cannot be written by cardline.
type AccessBits [4]Access

// ErrInvalidAccessBits means trailer bytes 6-8 are not a valid access-bit pattern (a bit and its
// inverted copy disagree), or an access condition is out of range.
var ErrInvalidAccessBits = errors.New("invalid access bits")

// Encode returns trailer bytes 6, 7 and 8 for the conditions, or an error if one is out of range.
func (a AccessBits) Encode() ([3]byte, error) {
	var c1, c2, c3 byte
	for i, acc := range a {
		if acc > 0b111 {
			return [3]byte{}, fmt.Errorf("%w: block %d condition %03b", ErrInvalidAccessBits, i, acc)
		}
		c1 |= byte(acc>>2&1) << i
		c2 |= byte(acc>>1&1) << i
		c3 |= byte(acc&1) << i
	}
	b6 := (^c2&0xf)<<4 | (^c1 & 0xf)
	b7 := c1<<4 | (^c3 & 0xf)
	b8 := c3<<4 | c2
	return [3]byte{b6, b7, b8}, nil
}

// DecodeAccessBits parses trailer bytes 6-8 and checks every bit against its inverted copy.
func DecodeAccessBits(b [3]byte) (AccessBits, error) {
	c1 := b[1] >> 4
	c2 := b[2] & 0xf
	c3 := b[2] >> 4
	nc1 := b[0] & 0xf
	nc2 := b[0] >> 4
	nc3 := b[1] & 0xf
	if c1^nc1 != 0xf || c2^nc2 != 0xf || c3^nc3 != 0xf {
		return AccessBits{}, fmt.Errorf("%w: % X", ErrInvalidAccessBits, b[:])
	}
	var a AccessBits
	for i := range a {
		a[i] = Access((c1>>i&1)<<2 | (c2>>i&1)<<1 | (c3 >> i & 1))
	}
	return a, nil
}

// KeyType names which of a sector's two keys is used.
type KeyType byte

const (
	KeyA KeyType = 0x60 // the MIFARE command code of authentication with key A
	KeyB KeyType = 0x61
)

func (k KeyType) String() string {
	if k == KeyB {
		return "B"
	}
	return "A"
}

// dataRights says what a key may do with a data block under condition acc.
func dataRights(acc Access, k KeyType) (read, write bool) {
	isB := k == KeyB
	switch acc {
	case 0b000:
		return true, true
	case 0b010, 0b001:
		return true, false
	case 0b100, 0b110:
		return true, isB
	case 0b011:
		return isB, isB
	case 0b101:
		return isB, false
	default: // 0b111
		return false, false
	}
}

// trailerRights says what a key may do with the parts of a sector trailer under condition acc.
type trailerRights struct {
	writeKeyA, readAccess, writeAccess, readKeyB, writeKeyB bool
}

func trailerRightsFor(acc Access, k KeyType) trailerRights {
	a, b := k == KeyA, k == KeyB
	switch acc {
	case 0b000:
		return trailerRights{writeKeyA: a, readAccess: a, readKeyB: a, writeKeyB: a}
	case 0b010:
		return trailerRights{readAccess: a, readKeyB: a}
	case 0b100:
		return trailerRights{writeKeyA: b, readAccess: true, writeKeyB: b}
	case 0b110:
		return trailerRights{readAccess: true}
	case 0b001:
		return trailerRights{writeKeyA: a, readAccess: a, writeAccess: a, readKeyB: a, writeKeyB: a}
	case 0b011:
		return trailerRights{writeKeyA: b, readAccess: true, writeAccess: b, writeKeyB: b}
	case 0b101:
		return trailerRights{readAccess: true, writeAccess: b}
	default: // 0b111
		return trailerRights{readAccess: true}
	}
}

// keyBReadable reports whether key B can be read under trailer condition acc; such a key B
// cannot serve for authentication (datasheet: it is then plain data).
func keyBReadable(acc Access) bool {
	return acc == 0b000 || acc == 0b010 || acc == 0b001
}
